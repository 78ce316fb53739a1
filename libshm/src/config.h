// SPDX-License-Identifier: MIT
// Config: the values of the LIBSHM_* options (options.def), parsed from the
// environment. Parsing never allocates (the shim parses before main); a bad
// value prints one line naming the variable and the accepted form and keeps
// the default, and is remembered so LIBSHM_STRICT=1 callers can fail.
#ifndef LIBSHM_SRC_CONFIG_H_
#define LIBSHM_SRC_CONFIG_H_

#include <stddef.h>
#include <stdint.h>

namespace libshm::internal {

enum class OptionType { kSize, kUint, kBool, kString };

constexpr size_t kMaxStringOption = 256;

template <OptionType>
struct OptionValue;
template <>
struct OptionValue<OptionType::kSize> {
  using T = uint64_t;
};
template <>
struct OptionValue<OptionType::kUint> {
  using T = uint64_t;
};
template <>
struct OptionValue<OptionType::kBool> {
  using T = bool;
};
template <>
struct OptionValue<OptionType::kString> {
  using T = char[kMaxStringOption];
};

struct Options {
#define OPTION(field, env, type, def, min, max, form, desc) OptionValue<OptionType::type>::T field;
#include "options.def"
#undef OPTION
  int bad_values = 0;  // how many variables had invalid values
};

// Fills `out` with defaults, then applies LIBSHM_* from `envp` (NULL-terminated,
// e.g. environ). A bad value (LIBSHM_POLICY naming no live policy included)
// keeps the default and is counted in bad_values. If `warn` is set, each bad
// value prints one line naming the cause and the fix. `joined`: the process
// joins a running session (LIBSHM_SESSION), whose launcher already reported
// the options the helper applies (limit, policy, swap directory, ...) and
// the unknown names; only this process's own options are reported and
// counted in bad_values then, so a bad value is said once per session, not
// once per process, and LIBSHM_STRICT fails no member for one.
void ParseOptions(Options* out, char* const* envp, bool warn, bool joined = false);

// Writes the live policies' names, comma-separated ("clock, fifo, ...").
void FormatLivePolicies(char* buf, size_t len);

// Parses "256M", "2GiB", "4096" into bytes. Returns false on bad input or overflow.
bool ParseSize(const char* s, uint64_t* out);
// Formats bytes as "256M"/"1.5G"-style into buf.
void FormatSize(uint64_t bytes, char* buf, size_t len);

// Describes an option for ctl and docs.
struct OptionInfo {
  const char* field;
  const char* env;
  OptionType type;
  const char* form;
  const char* description;
};
const OptionInfo* OptionTable(size_t* count);

}  // namespace libshm::internal

#endif  // LIBSHM_SRC_CONFIG_H_
