// SPDX-License-Identifier: GPL-2.0

//! `IOMMU_TEST_CMD`: the test interface, with the ABI of upstream iommufd's
//! `drivers/iommu/iommufd/iommufd_test.h` (Linux 7.3), so upstream's selftest can drive
//! `/dev/ioasid` too.
//!
//! It exists only when the module is loaded with `selftest=1`, which taints the kernel;
//! otherwise the ioctl number is unknown (`ENOTTY`). Ops implemented so far:
//! `IOMMU_TEST_OP_ADD_RESERVED`. The others return `EOPNOTSUPP` until the features they
//! test (mock domains, accesses, ...) exist.

use crate::{context::Context, dispatch::Ucmd, ioasid_dbg, iova::Span, uapi::IommuTestCmd};
use kernel::prelude::*;

/// `IOMMU_TEST_OP_ADD_RESERVED`: reserve an IOVA range of an IOAS, as a device's reserved
/// region would.
const IOMMU_TEST_OP_ADD_RESERVED: u32 = 1;

/// Whether the test interface is enabled (module parameter `selftest`).
pub(crate) fn enabled() -> bool {
    crate::module_parameters::selftest.value()
}

/// `IOMMU_TEST_CMD`.
pub(crate) fn ioctl_test_cmd(ctx: &Context, ucmd: &mut Ucmd) -> Result {
    let cmd = IommuTestCmd::read(ucmd.bytes());
    match cmd.op {
        IOMMU_TEST_OP_ADD_RESERVED => {
            if cmd.length == 0 {
                ioasid_dbg!("test add_reserved: zero length\n");
                return Err(EINVAL);
            }
            let span = Span::from_len(cmd.start, cmd.length).map_err(|_| EOVERFLOW)?;
            ctx.objects().get_ioas(cmd.id)?.add_reserved(span)
        }
        op => {
            ioasid_dbg!("test: op {} is not implemented\n", op);
            Err(EOPNOTSUPP)
        }
    }
}
