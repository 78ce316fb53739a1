# SPDX-License-Identifier: MIT
# LIBSHM_SANITIZE=address,undefined or thread applies to every target.
if(LIBSHM_SANITIZE)
  add_compile_options(-fsanitize=${LIBSHM_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=${LIBSHM_SANITIZE})
endif()
