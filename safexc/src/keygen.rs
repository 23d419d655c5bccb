//! `safexc keygen -o NAME`: a new signing key. `NAME.key` is the private
//! key (PKCS#8 PEM, mode 0600), `NAME.pub` the public key (DER
//! `RSAPublicKey`, what the kernel module takes); standard output gets the
//! module parameter `pubkey=HEX`. Existing files are never overwritten.

use crate::files;
use crate::out::{Out, OutputError};
use rand::SeedableRng;
use rand::rngs::{StdRng, SysRng};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct KeygenArgs {
    /// Writes NAME.key (the private key, mode 0600) and NAME.pub (the public key).
    #[arg(short, long, value_name = "NAME")]
    output: PathBuf,
    /// For tests only: derive the key from N instead of the operating
    /// system's random numbers. Anyone who knows N has the key: it is not
    /// secret.
    #[arg(long, value_name = "N", hide = true)]
    insecure_seed: Option<u64>,
}

pub fn keygen(out: &mut Out, args: KeygenArgs) -> Result<ExitCode, OutputError> {
    let failed = Ok(ExitCode::from(1));
    if files::is_stdio(&args.output) {
        errln!("error[L0003]: keygen writes two files, NAME.key and NAME.pub: give a NAME, not `-`");
        return Ok(ExitCode::from(crate::USAGE));
    }
    let key_path = with_suffix(&args.output, "key");
    let pub_path = with_suffix(&args.output, "pub");
    for path in [&key_path, &pub_path] {
        if path.symlink_metadata().is_ok() {
            errln!(
                "error[L0045]: {} exists: keygen never overwrites a key; remove it or give another name",
                path.display()
            );
            return failed;
        }
    }
    let key = match args.insecure_seed {
        Some(seed) => runtime::signed::generate(&mut StdRng::seed_from_u64(seed)),
        None => runtime::signed::generate(&mut SysRng),
    };
    let encoded = key.and_then(|key| {
        Ok((
            runtime::signed::private_key_pem(&key)?,
            runtime::signed::public_key_der(&key)?,
        ))
    });
    let (pem, der) = match encoded {
        Ok(encoded) => encoded,
        Err(e) => {
            errln!("{e}");
            return failed;
        }
    };
    if !write_new(&key_path, pem.as_bytes(), 0o600) || !write_new(&pub_path, &der, 0o644) {
        return failed;
    }
    let hex: String = der.iter().map(|b| format!("{b:02x}")).collect();
    writeln!(out, "pubkey={hex}")?;
    Ok(ExitCode::SUCCESS)
}

/// `NAME.suffix`, the suffix added to the whole name (`a.b` gives `a.b.key`).
fn with_suffix(name: &Path, suffix: &str) -> PathBuf {
    let mut path = name.as_os_str().to_owned();
    path.push(".");
    path.push(suffix);
    PathBuf::from(path)
}

/// Creates `path` with `mode`, failing if it exists (`L0045`), and writes
/// `bytes` (`L0002` on failure).
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> bool {
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path);
    let written = match created {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            errln!(
                "error[L0045]: {} exists: keygen never overwrites a key; remove it or give another name",
                path.display()
            );
            return false;
        }
        Err(e) => Err(e),
        Ok(mut file) => file.write_all(bytes).and_then(|()| file.sync_all()),
    };
    match written {
        Ok(()) => true,
        Err(e) => {
            errln!("error[L0002]: cannot write {}: {e}", path.display());
            false
        }
    }
}
