//! `safexc completions` and `safexc man`: generated from the command line's
//! own definition, so they name every command and option it has.

use std::process::Command;

mod common;
use common::{safexc, text};

/// The commands `safexc --help` lists, but `help`.
fn commands() -> Vec<String> {
    let out = safexc(&["--help"]);
    let help = text(&out.stdout);
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn completion_scripts_name_every_command_and_bash_s_parses() {
    let commands = commands();
    assert!(
        commands.len() > 15 && commands.iter().any(|c| c == "completions"),
        "{commands:?}"
    );
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = safexc(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        for command in &commands {
            assert!(script.contains(command.as_str()), "{shell} lacks {command}");
        }
        assert!(script.contains("stack-limit"), "{shell} lacks verify's options");
    }
    let script = safexc(&["completions", "bash"]).stdout;
    let dir = std::env::temp_dir().join(format!("safexc-shell-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("safexc.bash");
    std::fs::write(&file, script).unwrap();
    let bash = Command::new("bash").arg("-n").arg(&file).output().expect("bash");
    assert!(bash.status.success(), "{}", text(&bash.stderr));
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let out = safexc(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("error[L0003]:") && stderr.contains("tcsh"),
        "{stderr}"
    );
}

#[test]
fn man_prints_the_main_page_and_writes_one_per_command() {
    let out = safexc(&["man"]);
    assert_eq!(out.status.code(), Some(0));
    let page = text(&out.stdout);
    assert!(page.contains(".TH safexc 1") && page.contains("SafeX"), "{page}");

    let dir = std::env::temp_dir().join(format!("safexc-man-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = safexc(&["man", "-o", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let commands = commands();
    assert_eq!(
        text(&out.stdout).trim(),
        format!("{} pages written to {}", commands.len() + 1, dir.display())
    );
    for command in &commands {
        let page = std::fs::read_to_string(dir.join(format!("safexc-{command}.1"))).unwrap();
        assert!(page.contains(&format!(".TH safexc-{command} 1")), "{command}: {page}");
        // roff writes a hyphen as `\-` (`create-app`).
        let synopsis = format!("safexc {}", command.replace('-', "\\-"));
        assert!(page.contains(&synopsis), "{command}'s synopsis");
    }
    let verify = std::fs::read_to_string(dir.join("safexc-verify.1")).unwrap();
    assert!(verify.contains("stack\\-limit"), "{verify}");
}

#[test]
fn man_into_a_missing_folder_is_l0002() {
    let out = safexc(&["man", "-o", "/nonexistent/safexc-man"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("error[L0002]: cannot write the output /nonexistent/safexc-man/safexc.1"),
        "{stderr}"
    );
}
