# SPDX-License-Identifier: Apache-2.0
# VARPULIS_SANITIZE=address,undefined (or thread) instruments every target, generated code included.
if(VARPULIS_SANITIZE)
  add_compile_options(-fsanitize=${VARPULIS_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${VARPULIS_SANITIZE})
endif()
