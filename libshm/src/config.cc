// SPDX-License-Identifier: MIT
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>

#include "log.h"

namespace libshm::internal {
namespace {

constexpr const char kPrefix[] = "LIBSHM_";

bool ParseUint(const char* s, uint64_t* out) {
  if (*s == '\0') return false;
  uint64_t v = 0;
  for (; *s != '\0'; s++) {
    if (*s < '0' || *s > '9') return false;
    uint64_t d = static_cast<uint64_t>(*s - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

bool InRange(uint64_t v, uint64_t lo, uint64_t hi) { return v >= lo && v <= hi; }

bool ParseBool(const char* s, bool* out) {
  static const char* const kTrue[] = {"1", "true", "yes", "on"};
  static const char* const kFalse[] = {"0", "false", "no", "off"};
  for (const char* t : kTrue) {
    if (strcasecmp(s, t) == 0) return *out = true, true;
  }
  for (const char* f : kFalse) {
    if (strcasecmp(s, f) == 0) return *out = false, true;
  }
  return false;
}

// Matches "LIBSHM_<suffix>=" at the start of `entry`; returns the value or NULL.
const char* MatchEnv(const char* entry, const char* suffix) {
  size_t plen = sizeof(kPrefix) - 1;
  if (strncmp(entry, kPrefix, plen) != 0) return nullptr;
  size_t slen = strlen(suffix);
  if (strncmp(entry + plen, suffix, slen) != 0 || entry[plen + slen] != '=') return nullptr;
  return entry + plen + slen + 1;
}

const OptionInfo kOptionTable[] = {
#define OPTION(field, env, type, def, min, max, form, desc) \
  {#field, "LIBSHM_" #env, OptionType::type, form, desc},
#include "options.def"
#undef OPTION
};

}  // namespace

bool ParseSize(const char* s, uint64_t* out) {
  char digits[32];
  size_t n = 0;
  while (s[n] >= '0' && s[n] <= '9') {
    if (n + 1 >= sizeof(digits)) return false;
    digits[n] = s[n];
    n++;
  }
  digits[n] = '\0';
  uint64_t v;
  if (!ParseUint(digits, &v)) return false;
  const char* unit = s + n;
  unsigned shift = 0;
  switch (*unit) {
    case 'k':
    case 'K':
      shift = 10;
      break;
    case 'm':
    case 'M':
      shift = 20;
      break;
    case 'g':
    case 'G':
      shift = 30;
      break;
    case 't':
    case 'T':
      shift = 40;
      break;
    case '\0':
      break;
    case 'b':
    case 'B':
      if (unit[1] != '\0') return false;
      break;
    default:
      return false;
  }
  if (shift != 0) {
    unit++;
    if (strcmp(unit, "") != 0 && strcmp(unit, "B") != 0 && strcmp(unit, "iB") != 0 &&
        strcmp(unit, "b") != 0) {
      return false;
    }
    if (v > (UINT64_MAX >> shift)) return false;
    v <<= shift;
  }
  *out = v;
  return true;
}

void FormatSize(uint64_t bytes, char* buf, size_t len) {
  static const char kUnits[] = "BKMGT";
  int u = 0;
  uint64_t v = bytes;
  while (u < 4 && v >= 1024 && v % 1024 == 0) {
    v /= 1024;
    u++;
  }
  if (u == 0) {
    snprintf(buf, len, "%llu", static_cast<unsigned long long>(v));
  } else {
    snprintf(buf, len, "%llu%c", static_cast<unsigned long long>(v), kUnits[u]);
  }
}

const OptionInfo* OptionTable(size_t* count) {
  *count = sizeof(kOptionTable) / sizeof(kOptionTable[0]);
  return kOptionTable;
}

void ParseOptions(Options* out, char* const* envp, bool warn) {
  *out = Options{};
#define SET_DEFAULT_kSize(field, def) out->field = def;
#define SET_DEFAULT_kUint(field, def) out->field = def;
#define SET_DEFAULT_kBool(field, def) out->field = (def) != 0;
#define SET_DEFAULT_kString(field, def) snprintf(out->field, kMaxStringOption, "%s", def);
#define OPTION(field, env, type, def, min, max, form, desc) SET_DEFAULT_##type(field, def)
#include "options.def"
#undef OPTION
  // Like secure_getenv: a setuid/setgid program ignores the environment.
  if (envp == nullptr || getauxval(AT_SECURE) != 0) return;
  for (char* const* e = envp; *e != nullptr; e++) {
    if (strncmp(*e, kPrefix, sizeof(kPrefix) - 1) != 0) continue;
    const char* value;
    bool ok = true;
#define PARSE_kSize(field, min, max)                   \
  {                                                    \
    uint64_t v;                                        \
    ok = ParseSize(value, &v) && InRange(v, min, max); \
    if (ok) out->field = v;                            \
  }
#define PARSE_kUint(field, min, max)                   \
  {                                                    \
    uint64_t v;                                        \
    ok = ParseUint(value, &v) && InRange(v, min, max); \
    if (ok) out->field = v;                            \
  }
#define PARSE_kBool(field, min, max) \
  {                                  \
    bool v;                          \
    ok = ParseBool(value, &v);       \
    if (ok) out->field = v;          \
  }
#define PARSE_kString(field, min, max)                           \
  {                                                              \
    ok = strlen(value) < kMaxStringOption;                       \
    if (ok) snprintf(out->field, kMaxStringOption, "%s", value); \
  }
#define OPTION(field, env, type, def, min, max, form, desc)                                      \
  if ((value = MatchEnv(*e, #env)) != nullptr) {                                                 \
    PARSE_##type(field, min, max);                                                               \
    if (!ok) {                                                                                   \
      out->bad_values++;                                                                         \
      if (warn) {                                                                                \
        Log(LogLevel::kError, "LIBSHM_" #env "='%s' is invalid: expected %s; using the default", \
            value, form);                                                                        \
      }                                                                                          \
    }                                                                                            \
    continue;                                                                                    \
  }
#include "options.def"
#undef OPTION
    // LIBSHM_TEST_* are test hooks read where they act (evictor.cc), not
    // options: not in the table, not documented, and not "ignored".
    if (warn && strncmp(*e, "LIBSHM_TEST_", 12) != 0) {
      char name[64];
      size_t i = 0;
      while ((*e)[i] != '\0' && (*e)[i] != '=' && i + 1 < sizeof(name)) {
        name[i] = (*e)[i];
        i++;
      }
      name[i] = '\0';
      Log(LogLevel::kWarning, "%s is not a libshm option (ignored)", name);
    }
  }
}

}  // namespace libshm::internal
