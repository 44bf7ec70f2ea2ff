# SPDX-License-Identifier: GPL-2.0
# Builds ioasid.ko out of tree against a configured and built kernel tree.
#
#   make KDIR=<kernel build dir> [ARCH=x86|arm64] [LLVM=-22] [MO=<output dir>] [CLIPPY=1]
#   make headers_install [DESTDIR=...] [INSTALL_HDR_PATH=/usr]
#   make rustfmt | rustfmtcheck
#
# qemu-test/run runs this inside the toolchain root for each architecture.

KDIR ?= /lib/modules/$(shell uname -r)/build
INSTALL_HDR_PATH ?= /usr
RUSTFMT ?= rustfmt
RUST_SOURCES := $(shell find $(CURDIR)/rust -name "*.rs")

modules:
	$(MAKE) -C $(KDIR) M=$(CURDIR) $(if $(MO),MO=$(MO)) modules

modules_install:
	$(MAKE) -C $(KDIR) M=$(CURDIR) $(if $(MO),MO=$(MO)) modules_install

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) $(if $(MO),MO=$(MO)) clean

headers_install:
	install -D -m 0644 include/uapi/linux/ioasid.h $(DESTDIR)$(INSTALL_HDR_PATH)/include/linux/ioasid.h

rustfmt:
	$(RUSTFMT) --edition 2021 $(RUST_SOURCES)

rustfmtcheck:
	$(RUSTFMT) --edition 2021 --check $(RUST_SOURCES)

.PHONY: modules modules_install clean headers_install rustfmt rustfmtcheck
