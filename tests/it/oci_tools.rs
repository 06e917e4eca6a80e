//! The OCI layouts smidge writes, read by the OCI tools people use:
//! skopeo and umoci. issue #2: "The OCI layout must pass `umoci unpack` and
//! `skopeo inspect oci:` / `oci-archive:`."

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::support::*;
use serde_json::Value;

fn skopeo_inspect(args: &[&str]) -> Value {
    let out = Command::new("skopeo")
        .arg("inspect")
        .args(args)
        .output()
        .expect("spawn skopeo");
    assert!(
        out.status.success(),
        "skopeo inspect {args:?}:\n{}",
        show(&out)
    );
    serde_json::from_slice(&out.stdout).expect("skopeo prints JSON")
}

/// `[program, (code), --platform P]`: what each test builds.
fn program_args<'a>(program: &'a str, platform: &'a str) -> Vec<&'a str> {
    let mut args = vec![program];
    if program == "exit" {
        args.push("3");
    }
    args.extend(["--platform", platform]);
    args
}

// $ smidge hello --format oci -o hello.tar && skopeo inspect oci-archive:hello.tar
#[test]
#[ignore = "needs skopeo"]
fn oci_archive_passes_skopeo_inspect() {
    require!("skopeo");
    let dir = tempdir();
    for platform in PLATFORMS {
        for program in PROGRAMS {
            let archive = dir.path().join(format!("{program}-{}.tar", arch(platform)));
            let mut args = program_args(program, platform);
            args.extend(["--format", "oci", "-o", archive.to_str().unwrap()]);
            ok(&args);

            let image = skopeo_inspect(&[&format!("oci-archive:{}", archive.display())]);
            let what = format!("{program} {platform}: {image:#}");
            assert_eq!(image["Os"], "linux", "{what}");
            assert_eq!(image["Architecture"], arch(platform), "{what}");
            assert_eq!(image["Layers"].as_array().map(Vec::len), Some(1), "{what}");

            let config =
                skopeo_inspect(&["--config", &format!("oci-archive:{}", archive.display())]);
            assert_eq!(config["architecture"], arch(platform), "{config:#}");
            assert_eq!(config["os"], "linux", "{config:#}");
            assert_eq!(
                config["config"]["Entrypoint"],
                serde_json::json!([format!("/{program}")]),
                "{config:#}"
            );
        }
    }
}

// $ smidge hello --format oci-dir -o layout && skopeo inspect oci:layout
#[test]
#[ignore = "needs skopeo"]
fn oci_dir_passes_skopeo_inspect() {
    require!("skopeo");
    let dir = tempdir();
    for platform in PLATFORMS {
        for program in PROGRAMS {
            let layout = dir.path().join(format!("{program}-{}", arch(platform)));
            let mut args = program_args(program, platform);
            args.extend(["--format", "oci-dir", "-o", layout.to_str().unwrap()]);
            ok(&args);
            assert!(layout.join("oci-layout").is_file(), "no oci-layout file");
            assert!(layout.join("index.json").is_file(), "no index.json");

            let image = skopeo_inspect(&[&format!("oci:{}", layout.display())]);
            let what = format!("{program} {platform}: {image:#}");
            assert_eq!(image["Os"], "linux", "{what}");
            assert_eq!(image["Architecture"], arch(platform), "{what}");
            assert_eq!(image["Layers"].as_array().map(Vec::len), Some(1), "{what}");
        }
    }
}

/// The name the layout's index gives its one manifest
/// (`org.opencontainers.image.ref.name`), which `umoci --image DIR:REF` wants.
fn ref_name(layout: &Path) -> String {
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifests = index["manifests"].as_array().expect("index.manifests");
    assert_eq!(manifests.len(), 1, "one image in the layout: {index:#}");
    manifests[0]["annotations"]["org.opencontainers.image.ref.name"]
        .as_str()
        .unwrap_or_else(|| panic!("the manifest has no ref.name annotation: {index:#}"))
        .to_owned()
}

// $ smidge pause --format oci-dir -o layout && umoci unpack --image layout:REF bundle
#[test]
#[ignore = "needs umoci"]
fn oci_dir_unpacks_with_umoci_to_one_executable_file() {
    require!("umoci");
    let dir = tempdir();
    for platform in PLATFORMS {
        for program in PROGRAMS {
            let name = format!("{program}-{}", arch(platform));
            let layout = dir.path().join(&name);
            let mut args = program_args(program, platform);
            args.extend(["--format", "oci-dir", "-o", layout.to_str().unwrap()]);
            ok(&args);
            let payload = payload(program_args(program, platform));

            let bundle = dir.path().join(format!("{name}.bundle"));
            let image = format!("{}:{}", layout.display(), ref_name(&layout));
            let out = Command::new("umoci")
                .args(["unpack", "--image", &image])
                .arg(&bundle)
                .output()
                .expect("spawn umoci");
            assert!(
                out.status.success(),
                "umoci unpack {image}:\n{}",
                show(&out)
            );

            // The root file system holds one file: /<program>, mode 0755, the payload.
            let rootfs = bundle.join("rootfs");
            assert_eq!(
                entries(&rootfs).into_iter().collect::<Vec<_>>(),
                vec![program.to_owned()],
                "{name}: the layer holds one file"
            );
            let file = rootfs.join(program);
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o7777, 0o755, "{name}: mode {mode:o}");
            assert!(
                std::fs::read(&file).unwrap() == payload,
                "{name}: the unpacked file is not the payload"
            );

            // The runtime config runs it with no arguments.
            let config: Value =
                serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap())
                    .unwrap();
            assert_eq!(
                config["process"]["args"],
                serde_json::json!([format!("/{program}")]),
                "{name}"
            );
        }
    }
}

// issue #3: one reference, every platform.
// $ smidge hello --platform all --format oci-dir --platform-tags -o layout
// $ skopeo inspect --raw oci:layout:latest          # an index, a manifest per platform
// $ skopeo copy --all oci:layout:latest oci:copy:latest
// $ umoci unpack --image layout:latest-arm64-v8 bundle
#[test]
#[ignore = "needs skopeo, umoci"]
fn multi_platform_layout_is_one_index_that_tools_read() {
    require!("skopeo", "umoci");
    let dir = tempdir();
    let layout = dir.path().join("layout");
    ok([
        "hello",
        "--platform",
        "all",
        "--format",
        "oci-dir",
        "--platform-tags",
        "-o",
        layout.to_str().unwrap(),
    ]);
    let raw = |reference: &str| -> Value {
        let out = Command::new("skopeo")
            .args(["inspect", "--raw", reference])
            .output()
            .expect("spawn skopeo");
        assert!(out.status.success(), "{}", show(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let platforms_of = |index: &Value| -> Vec<String> {
        index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let p = &m["platform"];
                let mut s = format!(
                    "{}/{}",
                    p["os"].as_str().unwrap(),
                    p["architecture"].as_str().unwrap()
                );
                if let Some(v) = p["variant"].as_str() {
                    s = format!("{s}/{v}");
                }
                s
            })
            .collect()
    };
    let want: Vec<String> = smidge::Platform::ALL
        .iter()
        .map(|p| p.to_string())
        .collect();
    let index = raw(&format!("oci:{}:latest", layout.display()));
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    assert_eq!(platforms_of(&index), want);

    // Each platform resolves to its own image.
    for platform in smidge::Platform::ALL {
        let mut args = vec!["--override-arch", platform.architecture()];
        if let Some(v) = platform.variant() {
            args.extend(["--override-variant", v]);
        }
        let reference = format!("oci:{}:latest", layout.display());
        args.push(&reference);
        let image = skopeo_inspect(&args);
        assert_eq!(image["Architecture"], platform.architecture(), "{image:#}");
    }

    // skopeo copy --all keeps every platform.
    let copy = dir.path().join("copy");
    let out = Command::new("skopeo")
        .args(["copy", "--all"])
        .arg(format!("oci:{}:latest", layout.display()))
        .arg(format!("oci:{}:latest", copy.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        platforms_of(&raw(&format!("oci:{}:latest", copy.display()))),
        want
    );

    // umoci cannot pick a platform from an index; with --platform-tags each platform has
    // its own tag.
    let bundle = dir.path().join("bundle");
    let out = Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:latest-arm64-v8", layout.display()))
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let hello = std::fs::read(bundle.join("rootfs/hello")).unwrap();
    assert_eq!(&hello[..4], b"\x7fELF");
    assert_eq!(hello[18], 183, "e_machine = EM_AARCH64");
}
