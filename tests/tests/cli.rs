//! The command line: --version, --help, check-config on good and bad files (errors name the
//! file, line, column and field), default-config, and `run` refusing a bad file.

use causeway_tests::env_bin;
use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env_bin())
        .args(args)
        .output()
        .expect("run causeway");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn version_and_help() {
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("causeway "), "{out}");
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    for word in ["run", "check-config", "default-config"] {
        assert!(out.contains(word), "{out}");
    }
}

#[test]
fn default_config_passes_check_config() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = run(&["default-config"]);
    assert_eq!(code, 0);
    let f = dir.path().join("default.toml");
    std::fs::write(&f, out).unwrap();
    let (code, out, err) = run(&["check-config", f.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(": ok"), "{out}");
}

fn bad(contents: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.toml");
    std::fs::write(&f, contents).unwrap();
    let (code, _, err) = run(&["check-config", f.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    let (code, _, err2) = run(&["run", "--config", f.to_str().unwrap()]);
    assert_eq!(code, 1, "run must refuse it too: {err2}");
    assert!(err.contains("bad.toml:"), "{err}");
    err
}

const HEAD: &str = "[system]\nrole = \"control\"\ndomain = \"example.com\"\n";

#[test]
fn unknown_key_is_located() {
    let err = bad(&format!("{HEAD}[sip]\nudpp = 1\n"));
    assert!(err.contains("bad.toml:5:1: field `sip.udpp`"), "{err}");
}

#[test]
fn wrong_type_is_located() {
    let err = bad(&format!("{HEAD}[registrar]\nmin_expires = \"soon\"\n"));
    assert!(
        err.contains("bad.toml:5:15: field `registrar.min_expires`"),
        "{err}"
    );
}

#[test]
fn bad_listen_address_is_located() {
    let err = bad(&format!(
        "{HEAD}[sip]\ntls = {{ enabled = true, listen = \"localhost\" }}\n"
    ));
    assert!(err.contains("field `sip.tls.listen`"), "{err}");
    assert!(err.contains("not an address:port"), "{err}");
}

#[test]
fn inconsistent_values_are_located() {
    let err = bad(&format!(
        "{HEAD}[registrar]\nmin_expires = 600\nmax_expires = 60\n"
    ));
    assert!(
        err.contains("bad.toml:5:1: field `registrar.min_expires`"),
        "{err}"
    );
}
