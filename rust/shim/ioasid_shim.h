/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C half of ioasid's FFI layer: wrappers of static inline functions and of private
 * helpers of the IOMMU core that Rust cannot call through kernel::bindings. Each is a thin
 * wrapper with no policy of its own; rust/ffi.rs declares them and holds the SAFETY
 * contracts.
 */
#ifndef IOASID_SHIM_H
#define IOASID_SHIM_H

/* Number of PCI devices that are translated by an IOMMU (device_iommu_mapped()). */
unsigned int ioasid_shim_count_iommu_pci_devices(void);

#endif
