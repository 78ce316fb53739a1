# SPDX-License-Identifier: MIT
# libshm_warnings: an interface target carrying the project's warning flags.
add_library(libshm_warnings INTERFACE)
target_compile_options(libshm_warnings INTERFACE
  -Wall -Wextra -Wparentheses -Wno-missing-field-initializers
  $<$<BOOL:${LIBSHM_WERROR}>:-Werror>)
