# plugins/nginx/build.mk - builds the nginx dynamic module (included by the
# Makefile; docs/nginx.md).
#
#   make nginx-module     $(BUILD)/nginx/ngx_http_sluice_module.so
#
# The module is built the way Debian builds its own (dh_nginx): nginx's
# configure from nginx-dev (/usr/share/nginx/src), with the flags the
# packaged nginx was configured with (conf_flags: --with-compat and the
# same paths and modules, so the module is "binary compatible"), and
# --add-dynamic-module=plugins/nginx. configure writes only into
# --builddir ($(BUILD)/nginx); `make modules` then compiles from the
# source tree, which stays read-only (it may be root-owned).
#
# The module links libsluice statically ($(BUILD)/libsluice.a, built -fPIC):
# one file to install, no libsluice.so to find at run time and no version
# skew between the module and the library it was tested with. The
# libraries below libsluice (ICU, Hyperscan, PCRE2, libsodium, libyaml,
# hiredis) and cJSON are linked dynamically, as Debian packages.
#
# Sanitizer builds (SANITIZE=asan|tsan) do not build the module: an
# ASan-instrumented module cannot be loaded into the system nginx (the ASan
# runtime must come first in the process), and tests/integration/40-nginx.sh
# skips there. Without nginx-dev the target says so and does nothing.

NGX_SRC ?= /usr/share/nginx/src
NGX_BUILD = $(BUILD)/nginx
NGX_MODULE = $(NGX_BUILD)/ngx_http_sluice_module.so
NGX_PLUGIN_DEPS = $(wildcard plugins/nginx/*.c plugins/nginx/*.h) \
    plugins/nginx/config plugins/nginx/build.mk include/sluice.h
# What Debian's own nginx was compiled with (nginx -V), minus the
# reproducible-build path map.
NGX_CC_OPT = -g -O2 -fstack-protector-strong -Wformat -Werror=format-security \
    -fPIC -Wdate-time -D_FORTIFY_SOURCE=2
NGX_LD_OPT = -Wl,-z,relro -Wl,-z,now -fPIC

.PHONY: nginx-module

ifeq ($(SANITIZE),)
UNIT_EXTRA += nginx-module

nginx-module:
	@if [ -f $(NGX_SRC)/configure ] && [ -f $(NGX_SRC)/conf_flags ]; then \
	    $(MAKE) --no-print-directory $(NGX_MODULE); \
	else \
	    echo "nginx-module: no nginx-dev in $(NGX_SRC), module not built"; \
	fi
else
nginx-module:
	@echo "nginx-module: not built with SANITIZE=$(SANITIZE) (the system nginx cannot load an instrumented module)"
endif

# configure needs bash for conf_flags (an array).
$(NGX_BUILD)/Makefile: SHELL = /bin/bash
$(NGX_BUILD)/Makefile: plugins/nginx/config plugins/nginx/build.mk
	@rm -rf $(NGX_BUILD)
	@mkdir -p $(NGX_BUILD)
	@echo "configure nginx module -> $(NGX_BUILD) (log: $(NGX_BUILD)/configure.log)"
	@cd $(NGX_SRC) && . ./conf_flags && \
	    SLUICE_ROOT='$(CURDIR)' \
	    SLUICE_LIBS='$(abspath $(BUILD))/libsluice.a $(CJSON_LIBS) $(PKG_LIBS) -lstdc++ -lpthread -lm' \
	    ./configure "$${NGX_CONF_FLAGS[@]}" \
	        --with-cc-opt='$(NGX_CC_OPT)' --with-ld-opt='$(NGX_LD_OPT)' \
	        --add-dynamic-module='$(CURDIR)/plugins/nginx' \
	        --builddir='$(abspath $(NGX_BUILD))' \
	        >'$(abspath $(NGX_BUILD))/configure.log' 2>&1 || \
	    { tail -n 30 '$(abspath $(NGX_BUILD))/configure.log'; rm -f '$(abspath $(NGX_BUILD))/Makefile'; exit 1; }

# nginx's Makefile does not know libsluice.a: relink whenever it changes.
$(NGX_MODULE): $(NGX_BUILD)/Makefile $(BUILD)/libsluice.a $(NGX_PLUGIN_DEPS)
	@rm -f $@
	nice $(MAKE) --no-print-directory -C $(NGX_SRC) \
	    -f '$(abspath $(NGX_BUILD))/Makefile' modules
