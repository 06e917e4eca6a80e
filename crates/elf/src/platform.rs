//! Target platforms, named the way OCI image indexes and `docker run --platform` name them.

use std::fmt;
use std::str::FromStr;

/// A platform smidge can emit machine code for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    /// linux/amd64 (x86-64, ELFCLASS64, EM_X86_64)
    Amd64,
    /// linux/386 (IA-32, ELFCLASS32, EM_386)
    I386,
    /// linux/arm64/v8 (AArch64, ELFCLASS64, EM_AARCH64)
    Arm64,
    /// linux/arm/v7 (32-bit ARM, EABI5, ELFCLASS32, EM_ARM)
    ArmV7,
    /// linux/riscv64 (RV64GC, ELFCLASS64, EM_RISCV)
    Riscv64,
    /// linux/ppc64le (POWER8+, little-endian, ELFv2 ABI, EM_PPC64)
    Ppc64le,
    /// linux/s390x (z/Architecture, big-endian, EM_S390)
    S390x,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown platform `{0}`: expected one of linux/amd64, linux/386, linux/arm64, linux/arm/v7, linux/riscv64, linux/ppc64le, linux/s390x")]
pub struct UnknownPlatform(pub String);

impl Platform {
    /// Every platform, in the order `--platform all` lists them.
    pub const ALL: [Platform; 7] = [
        Platform::Amd64,
        Platform::I386,
        Platform::Arm64,
        Platform::ArmV7,
        Platform::Riscv64,
        Platform::Ppc64le,
        Platform::S390x,
    ];

    /// The OCI `os` field.
    pub fn os(self) -> &'static str {
        "linux"
    }

    /// The OCI `architecture` field (Go's GOARCH).
    pub fn architecture(self) -> &'static str {
        match self {
            Platform::Amd64 => "amd64",
            Platform::I386 => "386",
            Platform::Arm64 => "arm64",
            Platform::ArmV7 => "arm",
            Platform::Riscv64 => "riscv64",
            Platform::Ppc64le => "ppc64le",
            Platform::S390x => "s390x",
        }
    }

    /// The OCI `variant` field, where the platform has one.
    pub fn variant(self) -> Option<&'static str> {
        match self {
            Platform::Arm64 => Some("v8"),
            Platform::ArmV7 => Some("v7"),
            _ => None,
        }
    }

    /// The platform of the machine smidge runs on, if it is one smidge knows.
    pub fn host() -> Option<Platform> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Platform::Amd64),
            "x86" => Some(Platform::I386),
            "aarch64" => Some(Platform::Arm64),
            "arm" => Some(Platform::ArmV7),
            "riscv64" => Some(Platform::Riscv64),
            "powerpc64" if cfg!(target_endian = "little") => Some(Platform::Ppc64le),
            "s390x" => Some(Platform::S390x),
            _ => None,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os(), self.architecture())?;
        if let Some(v) = self.variant() {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = UnknownPlatform;

    /// Accepts OCI names with or without `linux/` (`linux/arm64/v8`, `arm/v7`, `386`) and the
    /// kernel's names (`x86_64`, `aarch64`, `armv7l`, `i686`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let arch = s.strip_prefix("linux/").unwrap_or(s);
        match arch {
            "amd64" | "x86_64" | "x86-64" => Ok(Platform::Amd64),
            "386" | "i386" | "i686" | "x86" => Ok(Platform::I386),
            "arm64" | "arm64/v8" | "aarch64" => Ok(Platform::Arm64),
            "arm" | "arm/v7" | "armv7" | "armv7l" | "armhf" => Ok(Platform::ArmV7),
            "riscv64" => Ok(Platform::Riscv64),
            "ppc64le" | "ppc64el" => Ok(Platform::Ppc64le),
            "s390x" => Ok(Platform::S390x),
            _ => Err(UnknownPlatform(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_oci_names() {
        for p in Platform::ALL {
            assert_eq!(p.to_string().parse::<Platform>(), Ok(p));
        }
        assert_eq!("linux/386".parse(), Ok(Platform::I386));
        assert_eq!("x86_64".parse(), Ok(Platform::Amd64));
        assert!("linux/sparc".parse::<Platform>().is_err());
    }
}
