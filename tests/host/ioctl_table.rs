// SPDX-License-Identifier: GPL-2.0

//! Checks of the ioctl table of `rust/dispatch.rs` (its rows are kernel code, so this reads
//! them as text): every row's number and minimum size against ioasid's header and, with
//! `IOASID_KSRC`, against upstream iommufd's header and the `IOCTL_OP` rows of its
//! `drivers/iommu/iommufd/main.c`.
//!
//! A row is `op!(IOCTL_NAME, MirrorType, last = field, handler)`: the number is the
//! constant `IOCTL_NAME` of `rust/uapi/ucmd.rs` and the minimum size is
//! `offsetofend!(MirrorType, field)`, as the kernel computes it (the mirrors' `ENDS`).

use crate::{
    uapi::*,
    uapi_header::{repo, run_c_upstream, run_c_with},
    ucmd,
    vfio::*,
};
use std::path::PathBuf;

/// One row of the table as written in `rust/dispatch.rs`.
#[derive(Debug)]
struct Row {
    /// The uAPI name of the ioctl (its number's constant).
    ioctl: String,
    /// The Rust mirror of its structure.
    mirror: String,
    /// The last mandatory field.
    last: String,
}

/// Splits the arguments of each `NAME(...)` call in `text`, from `from` on.
fn calls(text: &str, name: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(name) {
        rest = &rest[i + name.len()..];
        let mut depth = 1;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                depth += match c {
                    '(' => 1,
                    ')' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .map(|(i, _)| i)
            .expect("unbalanced call");
        let args = rest[..end]
            .split(',')
            .map(|a| a.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|a| !a.is_empty())
            .collect();
        out.push(args);
        rest = &rest[end..];
    }
    out
}

/// The rows of `OPS` in `rust/dispatch.rs`.
fn rows() -> Vec<Row> {
    let src = std::fs::read_to_string(repo().join("rust/dispatch.rs")).unwrap();
    let start = src
        .find("static OPS: &[Op] = &[")
        .expect("the table in dispatch.rs");
    let table = &src[start..start + src[start..].find("\n];").unwrap()];
    let rows: Vec<Row> = calls(table, "op!(")
        .into_iter()
        .map(|a| {
            assert_eq!(
                a.len(),
                4,
                "row {a:?} is not (IOCTL, Mirror, last = field, handler)"
            );
            let last = a[2].strip_prefix("last = ").expect("last = field");
            Row {
                ioctl: a[0].clone(),
                mirror: a[1].clone(),
                last: last.to_string(),
            }
        })
        .collect();
    assert!(rows.len() >= 16, "only {} rows found", rows.len());
    rows
}

/// The table's text in `rust/dispatch.rs`.
fn table_text() -> String {
    let src = std::fs::read_to_string(repo().join("rust/dispatch.rs")).unwrap();
    let start = src
        .find("static OPS: &[Op] = &[")
        .expect("the table in dispatch.rs");
    src[start..start + src[start..].find("\n];").unwrap()].to_string()
}

/// The VFIO rows `vfio!(IOCTL, Mirror, last = field, reply|no_reply, handler)`, as [`Row`]s.
fn vfio_rows() -> Vec<Row> {
    calls(&table_text(), "vfio!(")
        .into_iter()
        .map(|a| {
            assert_eq!(
                a.len(),
                5,
                "row {a:?} is not (IOCTL, Mirror, last = field, reply, handler)"
            );
            assert!(a[3] == "reply" || a[3] == "no_reply", "{a:?}");
            Row {
                ioctl: a[0].clone(),
                mirror: a[1].clone(),
                last: a[2]
                    .strip_prefix("last = ")
                    .expect("last = field")
                    .to_string(),
            }
        })
        .collect()
}

/// The ioctls of the VFIO rows whose argument is a value, `vfio_value!(IOCTL, handler)`.
fn vfio_value_rows() -> Vec<String> {
    calls(&table_text(), "vfio_value!(")
        .into_iter()
        .map(|a| {
            assert_eq!(a.len(), 2, "row {a:?} is not (IOCTL, handler)");
            a[0].clone()
        })
        .collect()
}

/// A mirror's size and field ends, by its Rust name.
fn mirror(name: &str) -> (usize, &'static [(&'static str, usize)]) {
    macro_rules! mirrors {
        ($($t:ident),*) => {
            match name {
                $(n if n == $t::NAME => ($t::SIZE, $t::ENDS),)*
                _ => panic!("no mirror {name}"),
            }
        };
    }
    mirrors!(
        IommuDestroy,
        IommuIoasAlloc,
        IommuIoasIovaRanges,
        IommuIoasAllowIovas,
        IommuIoasMap,
        IommuIoasMapFile,
        IommuIoasCopy,
        IommuIoasUnmap,
        IommuOption,
        IommuTestCmd,
        IommuHwInfo,
        IommuHwptAlloc,
        IommuHwptInvalidate,
        IommuFaultAlloc,
        IommuVeventqAlloc,
        IommuHwptSetDirtyTracking,
        IommuHwptGetDirtyBitmap,
        IommuViommuAlloc,
        IommuVdeviceAlloc,
        IommuIoasChangeProcess,
        IommuHwQueueAlloc,
        IoasidDeviceBind,
        IoasidDeviceAttach,
        IoasidDeviceDetach,
        IoasidPasidAlloc,
        IoasidPasidFree,
        IommuVfioIoas,
        VfioIommuType1Info,
        VfioIommuType1DmaMap,
        VfioIommuType1DmaUnmap
    )
}

/// The C name of a mirror: `IommuIoasMap` is `iommu_ioas_map` (a wrong name does not
/// compile against the header).
fn c_struct(mirror: &str) -> String {
    let mut c = String::new();
    for ch in mirror.chars() {
        if ch.is_ascii_uppercase() && !c.is_empty() {
            c.push('_');
        }
        c.push(ch.to_ascii_lowercase());
    }
    c
}

/// The C name of a field: the mirrors drop the `__` of `__reserved`.
fn c_field(field: &str) -> String {
    if field.starts_with("reserved") {
        format!("__{field}")
    } else {
        field.to_string()
    }
}

/// The ioctl number of a row, from `rust/uapi/ucmd.rs`.
fn number(ioctl: &str) -> u32 {
    ucmd::IOCTLS
        .iter()
        .find(|(n, _)| *n == ioctl)
        .unwrap_or_else(|| panic!("{ioctl} is not a constant of ucmd.rs"))
        .1
}

/// The minimum size of a row, `offsetofend!(mirror, last)` as the kernel computes it.
fn min_size(row: &Row) -> usize {
    let (_, ends) = mirror(&row.mirror);
    ends.iter()
        .find(|(f, _)| *f == row.last)
        .unwrap_or_else(|| panic!("{} has no field {}", row.mirror, row.last))
        .1
}

/// The minimum sizes as they were written by hand (`MIN_SIZE` of each mirror) before the
/// table computed them from the last mandatory field: the computation changed nothing.
const HAND_WRITTEN_MIN_SIZES: &[(&str, usize)] = &[
    ("IOMMU_DESTROY", 8),
    ("IOMMU_IOAS_ALLOC", 12),
    ("IOMMU_IOAS_ALLOW_IOVAS", 24),
    ("IOMMU_IOAS_COPY", 40),
    ("IOMMU_IOAS_IOVA_RANGES", 32),
    ("IOMMU_IOAS_MAP", 40),
    ("IOMMU_IOAS_UNMAP", 24),
    ("IOMMU_OPTION", 24),
    ("IOMMU_VFIO_IOAS", 12),
    ("IOMMU_HWPT_ALLOC", 24),
    ("IOMMU_GET_HW_INFO", 32),
    ("IOMMU_HWPT_SET_DIRTY_TRACKING", 16),
    ("IOMMU_HWPT_GET_DIRTY_BITMAP", 48),
    ("IOMMU_HWPT_INVALIDATE", 32),
    ("IOMMU_FAULT_QUEUE_ALLOC", 16),
    ("IOMMU_IOAS_MAP_FILE", 40),
    ("IOMMU_VIOMMU_ALLOC", 24),
    ("IOMMU_VDEVICE_ALLOC", 24),
    ("IOMMU_IOAS_CHANGE_PROCESS", 8),
    ("IOMMU_VEVENTQ_ALLOC", 28),
    ("IOMMU_HW_QUEUE_ALLOC", 40),
    ("IOMMU_TEST_CMD", 68),
    ("IOASID_DEVICE_BIND", 16),
    ("IOASID_DEVICE_ATTACH", 16),
    ("IOASID_DEVICE_DETACH", 12),
    ("IOASID_PASID_ALLOC", 32),
    ("IOASID_PASID_FREE", 16),
];

#[test]
fn every_ioctl_number_has_exactly_one_row() {
    let rows = rows();
    let vfio = vfio_rows();
    let values = vfio_value_rows();
    let mut names: Vec<&str> = rows
        .iter()
        .chain(&vfio)
        .map(|r| r.ioctl.as_str())
        .chain(values.iter().map(String::as_str))
        .collect();
    names.sort();
    let mut want: Vec<&str> = ucmd::IOCTLS.iter().map(|(n, _)| *n).collect();
    want.sort();
    assert_eq!(names, want);
}

#[test]
fn computed_min_sizes_equal_the_hand_written_ones() {
    let rows = rows();
    assert_eq!(rows.len(), HAND_WRITTEN_MIN_SIZES.len());
    for (ioctl, old) in HAND_WRITTEN_MIN_SIZES {
        let row = rows.iter().find(|r| r.ioctl == *ioctl).unwrap();
        assert_eq!(min_size(row), *old, "{ioctl}");
        let (size, _) = mirror(&row.mirror);
        assert!(4 <= *old && *old <= size, "{ioctl}");
    }
}

/// `#define offsetofend` for the C programs (the kernel's is not uAPI).
const OFFSETOFEND: &str = "#define offsetofend(T, m) (offsetof(T, m) + sizeof(((T *)0)->m))";

/// With ioasid's own header: every row's number is the header's `#define` and its minimum
/// size is `offsetofend` of the row's last field there. (`IOMMU_TEST_CMD` is not uAPI; it
/// is checked against upstream's `iommufd_test.h` below.)
#[test]
fn rows_match_ioasid_h() {
    let rows: Vec<Row> = rows()
        .into_iter()
        .filter(|r| r.ioctl != "IOMMU_TEST_CMD")
        .collect();
    let mut body = String::new();
    let mut want = String::new();
    for r in &rows {
        body += &format!(
            "printf(\"%lu %zu\\n\", (unsigned long){}, offsetofend(struct {}, {}));",
            r.ioctl,
            c_struct(&r.mirror),
            c_field(&r.last)
        );
        want += &format!("{} {}\n", number(&r.ioctl), min_size(r));
    }
    let out = run_c_with(
        &format!("#include <linux/ioasid.h>\n{OFFSETOFEND}"),
        &[repo().join("include/uapi")],
        &["-std=c11", "-pedantic"],
        &body,
    );
    assert_eq!(out, want);
}

/// An `IOCTL_OP(ioctl, handler, struct name, last)` row of upstream's `main.c`.
struct UpstreamOp {
    ioctl: String,
    c_struct: String,
    last: String,
}

/// The `IOCTL_OP` rows of upstream's `drivers/iommu/iommufd/main.c`.
fn upstream_ops(ksrc: &std::path::Path) -> Vec<UpstreamOp> {
    let main = std::fs::read_to_string(ksrc.join("drivers/iommu/iommufd/main.c"))
        .expect("reading main.c from IOASID_KSRC");
    // The rows follow the macro's definition.
    let table = &main[main
        .find("iommufd_ioctl_ops[] = {")
        .expect("the IOCTL_OP table")..];
    let table = &table[..table.find("};").unwrap()];
    let ops: Vec<UpstreamOp> = calls(table, "IOCTL_OP(")
        .into_iter()
        .map(|a| {
            assert_eq!(a.len(), 4, "upstream row {a:?}");
            UpstreamOp {
                ioctl: a[0].clone(),
                c_struct: a[2].strip_prefix("struct ").unwrap().to_string(),
                last: a[3].clone(),
            }
        })
        .collect();
    assert!(ops.len() >= 20, "only {} IOCTL_OP rows found", ops.len());
    ops
}

/// With `IOASID_KSRC`: every `IOMMU_*` row names the structure and last field of
/// upstream's `IOCTL_OP` row for the same ioctl, its number is upstream's `#define` and its
/// minimum size is upstream's `offsetofend(struct, last)`.
#[test]
fn iommu_rows_match_upstream_ioctl_op() {
    let Ok(ksrc) = std::env::var("IOASID_KSRC") else {
        eprintln!("IOASID_KSRC not set: upstream comparison skipped");
        return;
    };
    let ksrc = PathBuf::from(ksrc);
    let upstream = upstream_ops(&ksrc);
    let rows: Vec<Row> = rows()
        .into_iter()
        .filter(|r| r.ioctl.starts_with("IOMMU_"))
        .collect();
    let mut body = String::new();
    let mut want = String::new();
    for r in &rows {
        let up = upstream
            .iter()
            .find(|u| u.ioctl == r.ioctl)
            .unwrap_or_else(|| panic!("{} has no IOCTL_OP row upstream", r.ioctl));
        assert_eq!(c_struct(&r.mirror), up.c_struct, "{}", r.ioctl);
        assert_eq!(c_field(&r.last), up.last, "{}", r.ioctl);
        body += &format!(
            "printf(\"%s %lu %zu\\n\", \"{}\", (unsigned long){}, offsetofend(struct {}, {}));",
            r.ioctl, up.ioctl, up.c_struct, up.last
        );
        want += &format!("{} {} {}\n", r.ioctl, number(&r.ioctl), min_size(r));
    }
    let out = run_c_upstream(
        &ksrc,
        &format!("#include <linux/iommufd.h>\n#include \"iommufd_test.h\"\n{OFFSETOFEND}"),
        &body,
    );
    assert_eq!(out, want);
}

/// With `IOASID_KSRC`: every VFIO row's number is upstream's `#define` in `linux/vfio.h`,
/// its mandatory part is what `vfio_compat.c` reads (`offsetofend` of the row's last
/// field: `iova_pgsizes` for GET_INFO, `size` for MAP_DMA and UNMAP_DMA) and its mirror
/// has the C structure's size.
#[test]
fn vfio_rows_match_upstream_vfio_h() {
    let Ok(ksrc) = std::env::var("IOASID_KSRC") else {
        eprintln!("IOASID_KSRC not set: upstream comparison skipped");
        return;
    };
    let ksrc = PathBuf::from(ksrc);
    let compat = std::fs::read_to_string(ksrc.join("drivers/iommu/iommufd/vfio_compat.c"))
        .expect("reading vfio_compat.c");
    let mut body = String::new();
    let mut want = String::new();
    for r in vfio_rows() {
        let c = c_struct(&r.mirror);
        // vfio_compat.c's `minsz` of this structure names the same last field.
        assert!(
            compat.contains(&format!("offsetofend(struct {c}, {})", r.last)),
            "{}: vfio_compat.c does not read up to {}",
            r.ioctl,
            r.last
        );
        body += &format!(
            "printf(\"%lu %zu %zu\\n\", (unsigned long){}, offsetofend(struct {c}, {}), sizeof(struct {c}));",
            r.ioctl, r.last
        );
        want += &format!(
            "{} {} {}\n",
            number(&r.ioctl),
            min_size(&r),
            mirror(&r.mirror).0
        );
    }
    for v in vfio_value_rows() {
        body += &format!("printf(\"%lu\\n\", (unsigned long){v});");
        want += &format!("{}\n", number(&v));
        assert!(
            compat.contains(&format!("case {v}:")),
            "{v} is not answered by vfio_compat.c"
        );
    }
    let out = run_c_upstream(
        &ksrc,
        &format!("{}\n{OFFSETOFEND}", crate::uapi_header::VFIO_H),
        &body,
    );
    assert_eq!(out, want);
}
