// SPDX-License-Identifier: MIT
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>

#include "libshm/policy.h"
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

// -1 below lo, 1 above hi, 0 within.
int RangeOf(uint64_t v, uint64_t lo, uint64_t hi) { return v < lo ? -1 : v > hi ? 1 : 0; }

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

// Options the helper applies to the whole session. A process that joins a
// session cannot change them (the helper already runs), and the session's
// launcher reported their bad values.
bool IsSessionWide(const char* field) {
  static const char* const kSessionWide[] = {
      "limit",         "policy",  "swap_dir",    "swap_max", "show_stats", "stats_file",
      "low_watermark", "cluster", "sample_rate", "trace",    "evict_batch"};
  for (const char* f : kSessionWide) {
    if (strcmp(f, field) == 0) return true;
  }
  return false;
}

// One line for a bad value. `range` is -1 (below min), 1 (above max) or 0
// (not parsed); `size` says whether bounds are sizes (K/M/G) or counts.
void WarnBadValue(const char* env, const char* value, const char* form, int range, bool size,
                  uint64_t min, uint64_t max, uint64_t def) {
  auto format = [size](uint64_t v, char* buf, size_t len) {
    if (size) {
      FormatSize(v, buf, len);
    } else {
      snprintf(buf, len, "%llu", static_cast<unsigned long long>(v));
    }
  };
  char bound[32], fallback[32];
  format(range < 0 ? min : max, bound, sizeof(bound));
  format(def, fallback, sizeof(fallback));
  if (range < 0) {
    Log(LogLevel::kError,
        "%s='%s' is below the minimum %s: set it to at least %s; using the default %s", env, value,
        bound, bound, fallback);
  } else if (range > 0) {
    Log(LogLevel::kError,
        "%s='%s' is above the maximum %s: set it to at most %s; using the default %s", env, value,
        bound, bound, fallback);
  } else {
    Log(LogLevel::kError, "%s='%s' is invalid: expected %s; using the default %s", env, value, form,
        fallback);
  }
}

}  // namespace

void FormatLivePolicies(char* buf, size_t len) {
  const libshm_policy_ops* ops[64];
  size_t n = libshm_policy_list(ops, 64);
  if (n > 64) n = 64;
  size_t used = 0;
  if (len > 0) buf[0] = '\0';
  for (size_t i = 0; i < n && used < len; i++) {
    if (!ops[i]->live) continue;
    int w = snprintf(buf + used, len - used, "%s%s", used == 0 ? "" : ", ", ops[i]->name);
    if (w < 0) break;
    used += static_cast<size_t>(w);
  }
}

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

void ParseOptions(Options* out, char* const* envp, bool warn, bool joined) {
  *out = Options{};
#define SET_DEFAULT_kSize(field, def) out->field = def;
#define SET_DEFAULT_kUint(field, def) out->field = def;
#define SET_DEFAULT_kBool(field, def) out->field = (def) != 0;
#define SET_DEFAULT_kString(field, def) snprintf(out->field, kMaxStringOption, "%s", def);
#define OPTION(field, env, type, def, min, max, form, desc) SET_DEFAULT_##type(field, def)
#include "options.def"
#undef OPTION
  const Options defaults = *out;
  // Like secure_getenv: a setuid/setgid program ignores the environment.
  if (envp == nullptr || getauxval(AT_SECURE) != 0) return;
  for (char* const* e = envp; *e != nullptr; e++) {
    if (strncmp(*e, kPrefix, sizeof(kPrefix) - 1) != 0) continue;
    const char* value;
    bool ok = true;
    int range = 0;  // -1 below min, 1 above max
#define PARSE_NUMBER(parse, field, min, max) \
  {                                          \
    uint64_t v;                              \
    ok = parse(value, &v);                   \
    if (ok) range = RangeOf(v, min, max);    \
    ok = ok && range == 0;                   \
    if (ok) out->field = v;                  \
  }
#define PARSE_kSize(field, min, max) PARSE_NUMBER(ParseSize, field, min, max)
#define PARSE_kUint(field, min, max) PARSE_NUMBER(ParseUint, field, min, max)
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
#define WARN_kSize(env, form, min, max, def) \
  WarnBadValue("LIBSHM_" #env, value, form, range, true, min, max, def)
#define WARN_kUint(env, form, min, max, def) \
  WarnBadValue("LIBSHM_" #env, value, form, range, false, min, max, def)
#define WARN_kBool(env, form, min, max, def)                                                  \
  Log(LogLevel::kError, "LIBSHM_" #env "='%s' is invalid: expected %s; using the default %s", \
      value, form, (def) ? "on" : "off")
#define WARN_kString(env, form, min, max, def) \
  Log(LogLevel::kError, "LIBSHM_" #env "='%s' is invalid: expected %s", value, form)
#define OPTION(field, env, type, def, min, max, form, desc) \
  if ((value = MatchEnv(*e, #env)) != nullptr) {            \
    PARSE_##type(field, min, max);                          \
    if (!ok && !(joined && IsSessionWide(#field))) {        \
      out->bad_values++;                                    \
      if (warn) WARN_##type(env, form, min, max, def);      \
    }                                                       \
    continue;                                               \
  }
#include "options.def"
#undef OPTION
    // LIBSHM_TEST_* are test hooks read where they act (evictor.cc,
    // fault_handler.cc, peer.cc), not options: not in the table, not
    // documented, and not "ignored".
    if (warn && !joined && strncmp(*e, "LIBSHM_TEST_", 12) != 0) {
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
  char why[160] = "";
  const libshm_policy_ops* policy = libshm_policy_resolve(out->policy, why, sizeof(why));
  if (policy == nullptr || !policy->live) {
    bool own = !(joined && IsSessionWide("policy"));
    if (own) out->bad_values++;
    if (warn && own) {
      char live[256];
      FormatLivePolicies(live, sizeof(live));
      Log(LogLevel::kError,
          "LIBSHM_POLICY='%s' is not a live policy (%s): set it to one of %s, with its "
          "parameters if any (clock:insert_ref=0); using the default %s",
          out->policy, policy == nullptr ? why : "simulation only", live, defaults.policy);
    }
    memcpy(out->policy, defaults.policy, sizeof(out->policy));
  }
}

}  // namespace libshm::internal
