// SPDX-License-Identifier: GPL-2.0

//! Checks of `include/uapi/linux/ioasid.h` with the host C compiler: it must compile on
//! its own, as a uAPI header must, and agree with the Rust constants.

use crate::{mock_s1, ucmd};
use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::atomic::{AtomicUsize, Ordering},
};

pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Compiles and runs a C program that includes the header; returns its stdout.
fn run_c(body: &str) -> String {
    run_c_with(
        "#include <linux/ioasid.h>",
        &[repo().join("include/uapi")],
        &["-std=c11", "-pedantic"],
        body,
    )
}

/// Compiles and runs a C program with the given includes and include directories.
pub(crate) fn run_c_with(includes: &str, dirs: &[PathBuf], std: &[&str], body: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("ioasid-uapi-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("t.c");
    let exe = dir.join("t");
    std::fs::write(
        &src,
        format!(
            "#include <stdio.h>\n#include <stddef.h>\n{includes}\nint main(void) {{ {body} return 0; }}\n"
        ),
    )
    .unwrap();
    let out = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(["-Wall", "-Wextra", "-Werror"])
        .args(std)
        .args(dirs.iter().map(|d| format!("-I{}", d.display())))
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .output()
        .expect("running the C compiler");
    assert!(
        out.status.success(),
        "header does not compile:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&exe).output().unwrap();
    std::fs::remove_dir_all(&dir).ok();
    String::from_utf8(out.stdout).unwrap()
}

/// Compiles and runs a C program with upstream iommufd's headers from the kernel source
/// `ksrc` (`<linux/iommufd.h>` and the test interface's `"iommufd_test.h"`, copied aside
/// so that no other kernel header comes along); returns its stdout. Upstream's header uses
/// anonymous unions: GNU C, not pedantic C99.
pub(crate) fn run_c_upstream(ksrc: &Path, includes: &str, body: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("ioasid-upstream-{}-{n}", std::process::id()));
    std::fs::create_dir_all(dir.join("linux")).unwrap();
    for (from, to) in [
        ("include/uapi/linux/iommufd.h", "linux/iommufd.h"),
        ("drivers/iommu/iommufd/iommufd_test.h", "iommufd_test.h"),
        ("include/uapi/linux/vfio.h", "linux/vfio.h"),
    ] {
        std::fs::copy(ksrc.join(from), dir.join(to))
            .unwrap_or_else(|e| panic!("reading {from} from IOASID_KSRC: {e}"));
    }
    let out = run_c_with(includes, std::slice::from_ref(&dir), &["-std=gnu11"], body);
    std::fs::remove_dir_all(&dir).ok();
    out
}

#[test]
fn header_compiles_on_its_own_with_pedantic_c11() {
    run_c("");
}

#[test]
fn header_constants_match_the_rust_side() {
    let out = run_c(
        r#"printf("%u %u %u %lu\n", (unsigned)IOMMUFD_TYPE, (unsigned)IOMMUFD_CMD_BASE,
                  (unsigned)IOASID_CMD_BASE, (unsigned long)_IO(IOMMUFD_TYPE, IOMMUFD_CMD_BASE));
           printf("%u %u %llu %llu %llu %u\n", (unsigned)IOASID_HWPT_DATA_MOCK_S1,
                  (unsigned)IOASID_HWPT_INVALIDATE_DATA_MOCK_S1,
                  (unsigned long long)IOASID_MOCK_S1_VALID, (unsigned long long)IOASID_MOCK_S1_READ,
                  (unsigned long long)IOASID_MOCK_S1_WRITE, (unsigned)IOASID_MOCK_S1_INVALIDATE_ALL);"#,
    );
    let v: Vec<u64> = out.split_whitespace().map(|s| s.parse().unwrap()).collect();
    assert_eq!(
        v,
        [
            ucmd::IOMMUFD_TYPE as u64,
            ucmd::IOMMUFD_CMD_BASE as u64,
            ucmd::IOASID_CMD_BASE as u64,
            ucmd::io(ucmd::IOMMUFD_CMD_BASE) as u64,
            mock_s1::IOASID_HWPT_DATA_MOCK_S1 as u64,
            mock_s1::IOASID_HWPT_INVALIDATE_DATA_MOCK_S1 as u64,
            mock_s1::VALID,
            mock_s1::READ,
            mock_s1::WRITE,
            mock_s1::INVALIDATE_ALL as u64,
        ]
    );
}

/// Every mirror: its C name, size and field offsets.
/// A mirror's C name, size and `(field, offset)` list.
type Mirror = (&'static str, usize, &'static [(&'static str, usize)]);

fn mirrors() -> Vec<Mirror> {
    use crate::uapi::*;
    vec![
        ("iommu_destroy", IommuDestroy::SIZE, IommuDestroy::LAYOUT),
        (
            "iommu_ioas_alloc",
            IommuIoasAlloc::SIZE,
            IommuIoasAlloc::LAYOUT,
        ),
        (
            "iommu_iova_range",
            IommuIovaRange::SIZE,
            IommuIovaRange::LAYOUT,
        ),
        (
            "iommu_ioas_iova_ranges",
            IommuIoasIovaRanges::SIZE,
            IommuIoasIovaRanges::LAYOUT,
        ),
        (
            "iommu_ioas_allow_iovas",
            IommuIoasAllowIovas::SIZE,
            IommuIoasAllowIovas::LAYOUT,
        ),
        ("iommu_ioas_map", IommuIoasMap::SIZE, IommuIoasMap::LAYOUT),
        (
            "iommu_ioas_unmap",
            IommuIoasUnmap::SIZE,
            IommuIoasUnmap::LAYOUT,
        ),
        (
            "iommu_ioas_copy",
            IommuIoasCopy::SIZE,
            IommuIoasCopy::LAYOUT,
        ),
        (
            "iommu_ioas_map_file",
            IommuIoasMapFile::SIZE,
            IommuIoasMapFile::LAYOUT,
        ),
        ("iommu_option", IommuOption::SIZE, IommuOption::LAYOUT),
        (
            "iommu_vfio_ioas",
            IommuVfioIoas::SIZE,
            IommuVfioIoas::LAYOUT,
        ),
        ("iommu_hw_info", IommuHwInfo::SIZE, IommuHwInfo::LAYOUT),
        (
            "iommu_hwpt_alloc",
            IommuHwptAlloc::SIZE,
            IommuHwptAlloc::LAYOUT,
        ),
        (
            "iommu_hwpt_invalidate",
            IommuHwptInvalidate::SIZE,
            IommuHwptInvalidate::LAYOUT,
        ),
        (
            "iommu_hwpt_set_dirty_tracking",
            IommuHwptSetDirtyTracking::SIZE,
            IommuHwptSetDirtyTracking::LAYOUT,
        ),
        (
            "iommu_hwpt_get_dirty_bitmap",
            IommuHwptGetDirtyBitmap::SIZE,
            IommuHwptGetDirtyBitmap::LAYOUT,
        ),
        (
            "iommu_fault_alloc",
            IommuFaultAlloc::SIZE,
            IommuFaultAlloc::LAYOUT,
        ),
        (
            "iommu_hwpt_pgfault",
            IommuHwptPgfault::SIZE,
            IommuHwptPgfault::LAYOUT,
        ),
        (
            "iommu_hwpt_page_response",
            IommuHwptPageResponse::SIZE,
            IommuHwptPageResponse::LAYOUT,
        ),
        (
            "iommu_veventq_alloc",
            IommuVeventqAlloc::SIZE,
            IommuVeventqAlloc::LAYOUT,
        ),
        (
            "iommufd_vevent_header",
            IommufdVeventHeader::SIZE,
            IommufdVeventHeader::LAYOUT,
        ),
        (
            "iommu_ioas_change_process",
            IommuIoasChangeProcess::SIZE,
            IommuIoasChangeProcess::LAYOUT,
        ),
        (
            "iommu_viommu_alloc",
            IommuViommuAlloc::SIZE,
            IommuViommuAlloc::LAYOUT,
        ),
        (
            "iommu_vdevice_alloc",
            IommuVdeviceAlloc::SIZE,
            IommuVdeviceAlloc::LAYOUT,
        ),
        (
            "iommu_hw_queue_alloc",
            IommuHwQueueAlloc::SIZE,
            IommuHwQueueAlloc::LAYOUT,
        ),
        (
            "ioasid_hwpt_mock_s1",
            IoasidHwptMockS1::SIZE,
            IoasidHwptMockS1::LAYOUT,
        ),
        (
            "ioasid_hwpt_invalidate_mock_s1",
            IoasidHwptInvalidateMockS1::SIZE,
            IoasidHwptInvalidateMockS1::LAYOUT,
        ),
        (
            "ioasid_device_bind",
            IoasidDeviceBind::SIZE,
            IoasidDeviceBind::LAYOUT,
        ),
        (
            "ioasid_device_attach",
            IoasidDeviceAttach::SIZE,
            IoasidDeviceAttach::LAYOUT,
        ),
        (
            "ioasid_device_detach",
            IoasidDeviceDetach::SIZE,
            IoasidDeviceDetach::LAYOUT,
        ),
        (
            "ioasid_pasid_alloc",
            IoasidPasidAlloc::SIZE,
            IoasidPasidAlloc::LAYOUT,
        ),
        (
            "ioasid_pasid_free",
            IoasidPasidFree::SIZE,
            IoasidPasidFree::LAYOUT,
        ),
    ]
}

/// A C program body printing "size off off ..." per mirror, one line each.
/// The mirrors of structures upstream iommufd also has (ioasid's own `ioasid_*` device
/// structures exist only in ioasid's header).
fn shared_mirrors() -> impl Iterator<Item = Mirror> {
    mirrors()
        .into_iter()
        .filter(|(name, _, _)| !name.starts_with("ioasid_"))
}

/// A C program printing the layout of each of `mirrors`.
fn layout_program_of(mirrors: impl Iterator<Item = Mirror>) -> String {
    let mut body = String::new();
    for (name, _, fields) in mirrors {
        body += &format!("printf(\"%zu\", sizeof(struct {name}));");
        for (f, _) in fields {
            // `__reserved` and `type` are `reserved` and `r#type` in Rust.
            let c = if f.starts_with("reserved") {
                format!("__{f}")
            } else {
                f.trim_start_matches("r#").to_string()
            };
            body += &format!("printf(\" %zu\", offsetof(struct {name}, {c}));");
        }
        body += "printf(\"\\n\");";
    }
    body
}

fn layout_program() -> String {
    layout_program_of(mirrors().into_iter())
}

/// The layout `layout_program_of(mirrors)` must print.
fn expected_layout_of(mirrors: impl Iterator<Item = Mirror>) -> String {
    mirrors
        .map(|(_, size, fields)| {
            let mut l = size.to_string();
            for (_, off) in fields.iter() {
                l += &format!(" {off}");
            }
            l + "\n"
        })
        .collect()
}

fn expected_layout() -> String {
    expected_layout_of(mirrors().into_iter())
}

#[test]
fn rust_mirrors_match_the_c_header() {
    assert_eq!(run_c(&layout_program()), expected_layout());
}

/// The unpacked Linux 7.3 source the upstream comparisons read, from `IOASID_KSRC`.
/// Those tests are `#[ignore]`d, so a plain `cargo test` reports them as ignored;
/// `qemu-test/test-all` sets the variable and runs them with `--include-ignored`, and
/// there a missing source is a failure, never a pass.
fn kernel_source() -> PathBuf {
    let ksrc = std::env::var("IOASID_KSRC").expect(
        "IOASID_KSRC must name the unpacked kernel source \
         (IOASID_KSRC=$(qemu-test/kernel.sh --source) cargo test -- --include-ignored)",
    );
    let ksrc = PathBuf::from(ksrc);
    assert!(
        ksrc.join("include/uapi/linux/iommufd.h").is_file(),
        "IOASID_KSRC={} holds no include/uapi/linux/iommufd.h",
        ksrc.display()
    );
    ksrc
}

/// The shared structures also match upstream iommufd's header byte for byte.
#[test]
#[ignore = "needs IOASID_KSRC (the unpacked kernel source; test-all sets it)"]
fn rust_mirrors_match_upstream_iommufd() {
    let ksrc = kernel_source();
    let out = run_c_upstream(
        &ksrc,
        "#include <linux/iommufd.h>",
        &layout_program_of(shared_mirrors()),
    );
    assert_eq!(out, expected_layout_of(shared_mirrors()));
}

/// The mirrors of `struct iommu_test_cmd`'s union members: member name and
/// `(field, offset in the command)` list.
fn test_op_mirrors() -> Vec<(&'static str, &'static [(&'static str, usize)])> {
    use crate::uapi::*;
    vec![
        (TestMockDomain::MEMBER, TestMockDomain::LAYOUT),
        (TestMockDomainReplace::MEMBER, TestMockDomainReplace::LAYOUT),
        (TestCheckMap::MEMBER, TestCheckMap::LAYOUT),
        (TestCheckRefs::MEMBER, TestCheckRefs::LAYOUT),
        (TestCreateAccess::MEMBER, TestCreateAccess::LAYOUT),
        (
            TestDestroyAccessPages::MEMBER,
            TestDestroyAccessPages::LAYOUT,
        ),
        (TestAccessPages::MEMBER, TestAccessPages::LAYOUT),
        (TestAccessRw::MEMBER, TestAccessRw::LAYOUT),
        (TestMemoryLimit::MEMBER, TestMemoryLimit::LAYOUT),
        (TestAccessReplaceIoas::MEMBER, TestAccessReplaceIoas::LAYOUT),
        (TestCheckDevCache::MEMBER, TestCheckDevCache::LAYOUT),
        (TestCheckIotlb::MEMBER, TestCheckIotlb::LAYOUT),
        (TestTriggerIopf::MEMBER, TestTriggerIopf::LAYOUT),
        (TestDirty::MEMBER, TestDirty::LAYOUT),
        (TestPasidAttach::MEMBER, TestPasidAttach::LAYOUT),
        // The same shape under another name.
        ("pasid_replace", TestPasidAttach::LAYOUT),
        (TestPasidDetach::MEMBER, TestPasidDetach::LAYOUT),
        (TestPasidCheck::MEMBER, TestPasidCheck::LAYOUT),
    ]
}

/// The mirrors of the mock's driver data structures in `iommufd_test.h`.
fn test_data_mirrors() -> Vec<Mirror> {
    use crate::uapi::*;
    vec![
        (
            "iommu_hwpt_selftest",
            IommuHwptSelftest::SIZE,
            IommuHwptSelftest::LAYOUT,
        ),
        (
            "iommu_hwpt_invalidate_selftest",
            IommuHwptInvalidateSelftest::SIZE,
            IommuHwptInvalidateSelftest::LAYOUT,
        ),
        (
            "iommu_viommu_selftest",
            IommuViommuSelftest::SIZE,
            IommuViommuSelftest::LAYOUT,
        ),
        (
            "iommu_viommu_invalidate_selftest",
            IommuViommuInvalidateSelftest::SIZE,
            IommuViommuInvalidateSelftest::LAYOUT,
        ),
    ]
}

/// The test interface's mirrors match upstream's `drivers/iommu/iommufd/iommufd_test.h`:
/// the command header and every union member ioasid implements, field by field.
#[test]
#[ignore = "needs IOASID_KSRC (the unpacked kernel source; test-all sets it)"]
fn test_op_mirrors_match_upstream_iommufd_test_h() {
    use crate::uapi::IommuTestCmd;
    let ksrc = kernel_source();
    let mut body = String::from("printf(\"%zu\", sizeof(struct iommu_test_cmd));");
    let mut want = IommuTestCmd::SIZE.to_string();
    for (member, fields) in test_op_mirrors() {
        for (f, off) in fields {
            body += &format!("printf(\" %zu\", offsetof(struct iommu_test_cmd, {member}.{f}));");
            want += &format!(" {off}");
        }
    }
    body += "printf(\"\\n\");";
    want += "\n";
    // The mock's driver data structures (IOMMU_HWPT_ALLOC, IOMMU_VIOMMU_ALLOC,
    // IOMMU_HWPT_INVALIDATE).
    body += &layout_program_of(test_data_mirrors().into_iter());
    want += &expected_layout_of(test_data_mirrors().into_iter());
    let out = run_c_upstream(
        &ksrc,
        "#include <linux/iommufd.h>\n#include \"iommufd_test.h\"",
        &body,
    );
    assert_eq!(out, want);
}

/// Includes upstream's `linux/vfio.h` from the kernel source, which still carries two
/// kernel-only annotations that `make headers_install` strips.
pub(crate) const VFIO_H: &str = "#define __user\n#define __counted_by(m)\n#include <linux/vfio.h>";

/// The mirrors of `linux/vfio.h` (the VFIO type1 compatibility, `rust/uapi/vfio.rs`).
fn vfio_mirrors() -> [Mirror; 7] {
    use crate::vfio::*;
    [
        (
            "vfio_iommu_type1_info",
            VfioIommuType1Info::SIZE,
            VfioIommuType1Info::LAYOUT,
        ),
        (
            "vfio_iommu_type1_dma_map",
            VfioIommuType1DmaMap::SIZE,
            VfioIommuType1DmaMap::LAYOUT,
        ),
        (
            "vfio_iommu_type1_dma_unmap",
            VfioIommuType1DmaUnmap::SIZE,
            VfioIommuType1DmaUnmap::LAYOUT,
        ),
        (
            "vfio_info_cap_header",
            VfioInfoCapHeader::SIZE,
            VfioInfoCapHeader::LAYOUT,
        ),
        (
            "vfio_iommu_type1_info_cap_iova_range",
            VfioIommuType1InfoCapIovaRange::SIZE,
            VfioIommuType1InfoCapIovaRange::LAYOUT,
        ),
        (
            "vfio_iova_range",
            VfioIovaRange::SIZE,
            VfioIovaRange::LAYOUT,
        ),
        (
            "vfio_iommu_type1_info_dma_avail",
            VfioIommuType1InfoDmaAvail::SIZE,
            VfioIommuType1InfoDmaAvail::LAYOUT,
        ),
    ]
}

/// The VFIO mirrors match upstream's `linux/vfio.h` byte for byte, and so do the
/// constants the compatibility layer uses.
#[test]
#[ignore = "needs IOASID_KSRC (the unpacked kernel source; test-all sets it)"]
fn vfio_mirrors_and_constants_match_upstream_vfio_h() {
    use crate::vfio::*;
    let ksrc = kernel_source();
    // vfio.h's field names are plain (`reserved`, not `__reserved`).
    let mut body = String::new();
    for (name, _, fields) in vfio_mirrors() {
        body += &format!("printf(\"%zu\", sizeof(struct {name}));");
        for (f, _) in fields {
            body += &format!("printf(\" %zu\", offsetof(struct {name}, {f}));");
        }
        body += "printf(\"\\n\");";
    }
    let out = run_c_upstream(&ksrc, VFIO_H, &body);
    assert_eq!(out, expected_layout_of(vfio_mirrors().into_iter()));
    let out = run_c_upstream(
        &ksrc,
        VFIO_H,
        r#"printf("%d %d %d %d %d %d %d %d %d %d %d %d %d %u\n", VFIO_API_VERSION,
                  VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, VFIO_DMA_CC_IOMMU, VFIO_UNMAP_ALL,
                  VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE, VFIO_DMA_UNMAP_FLAG_ALL,
                  VFIO_IOMMU_INFO_PGSIZES, VFIO_IOMMU_INFO_CAPS,
                  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
                  VFIO_BASE, (unsigned)VFIO_GET_API_VERSION);"#,
    );
    let want = format!(
        "{} {} {} {} {} {} {} {} {} {} {} {} {} {}\n",
        VFIO_API_VERSION,
        VFIO_TYPE1_IOMMU,
        VFIO_TYPE1V2_IOMMU,
        VFIO_DMA_CC_IOMMU,
        VFIO_UNMAP_ALL,
        VFIO_DMA_MAP_FLAG_READ,
        VFIO_DMA_MAP_FLAG_WRITE,
        VFIO_DMA_UNMAP_FLAG_ALL,
        VFIO_IOMMU_INFO_PGSIZES,
        VFIO_IOMMU_INFO_CAPS,
        VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
        VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
        ucmd::VFIO_BASE,
        ucmd::VFIO_GET_API_VERSION,
    );
    assert_eq!(out, want);
}
