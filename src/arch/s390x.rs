//! S390x: not written yet (issue #3).

use super::{Addressing, Code, Insn, Isa, Target};
use crate::Program;

pub struct S390x;

impl Isa for S390x {
    fn lower(&self, _program: &Program, _addressing: Addressing) -> Code {
        unimplemented!("issue #3")
    }

    fn jump(&self, _target: Target) -> Insn {
        unimplemented!("issue #3")
    }

    fn nop(&self) -> Insn {
        unimplemented!("issue #3")
    }
}
