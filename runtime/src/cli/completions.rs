//! `connectors completions bash|zsh|fish`: the shell's completion script
//! for every command and option, on standard output.

use std::io::Write;

/// Writes the completion script of `command` for `shell`.
pub fn print(shell: clap_complete::Shell, command: &mut clap::Command) -> std::io::Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(shell, command, "connectors", &mut script);
    std::io::stdout().lock().write_all(&script)
}
