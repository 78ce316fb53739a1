# SPDX-License-Identifier: MIT
# libshm_missing_dependency(TEST PACKAGE): a test whose dependency was not found
# at configure time is still registered, under its own name, and fails with
# the Debian package to install: a missing package is a failure, never a skip
# (the README's test command installs every one of them). Configure warns too.
function(libshm_missing_dependency test package)
  set(text "${test}: ${package} is not installed: apt-get install ${package}, then configure again")
  message(WARNING "${text}")
  add_test(NAME ${test} COMMAND sh -c "echo '${text}' >&2; exit 1")
endfunction()
