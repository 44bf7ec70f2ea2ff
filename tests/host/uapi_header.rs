// SPDX-License-Identifier: GPL-2.0

//! Checks of `include/uapi/linux/ioasid.h` with the host C compiler: it must compile on
//! its own, as a uAPI header must, and agree with the Rust constants.

use crate::ucmd;
use std::{
    path::PathBuf,
    process::Command,
    sync::atomic::{AtomicUsize, Ordering},
};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Compiles and runs a C program that includes the header; returns its stdout.
fn run_c(body: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("ioasid-uapi-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("t.c");
    let exe = dir.join("t");
    std::fs::write(
        &src,
        format!("#include <stdio.h>\n#include <linux/ioasid.h>\nint main(void) {{ {body} return 0; }}\n"),
    )
    .unwrap();
    let out = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I"])
        .arg(repo().join("include/uapi"))
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

#[test]
fn header_compiles_on_its_own_with_pedantic_c99() {
    run_c("");
}

#[test]
fn header_constants_match_the_rust_side() {
    let out = run_c(
        r#"printf("%u %u %u %lu\n", (unsigned)IOMMUFD_TYPE, (unsigned)IOMMUFD_CMD_BASE,
                  (unsigned)IOASID_CMD_BASE, (unsigned long)_IO(IOMMUFD_TYPE, IOMMUFD_CMD_BASE));"#,
    );
    let v: Vec<u64> = out.split_whitespace().map(|s| s.parse().unwrap()).collect();
    assert_eq!(
        v,
        [
            ucmd::IOMMUFD_TYPE as u64,
            ucmd::IOMMUFD_CMD_BASE as u64,
            ucmd::IOASID_CMD_BASE as u64,
            ucmd::io(ucmd::IOMMUFD_CMD_BASE) as u64
        ]
    );
}
