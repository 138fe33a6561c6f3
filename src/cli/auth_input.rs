//! Passwords and answers for the `auth` and `users` commands: read from standard
//! input (bounded) or asked on the terminal, hidden.

use std::io::{BufRead, IsTerminal};

use dialoguer::console::Term;

/// Longest line read from standard input for a password: passwords are at most
/// 256 characters (of up to 4 bytes each); anything longer is not one, and is
/// not read to its end.
pub const MAX_PASSWORD_LINE_BYTES: u64 = 4096;

/// A password chosen now: from standard input, or asked twice on a terminal.
pub(in crate::cli) fn new_password(password_stdin: bool) -> anyhow::Result<String> {
    if password_stdin {
        return Ok(read_stdin_lines(1)?.remove(0));
    }
    need_terminal("the password", "--password-stdin")?;
    ask_new_password("Password")
}

/// Fails unless there is a terminal to ask on, naming the flags that do instead.
pub(in crate::cli) fn need_terminal(what: &str, flags: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
        "no terminal to ask for {what} on; pass {flags} instead"
    );
    Ok(())
}

pub(super) fn ask_password(prompt: &str) -> anyhow::Result<String> {
    dialoguer::Password::new()
        .with_prompt(prompt)
        .interact_on(&Term::stderr())
        .map_err(prompt_error)
}

pub(super) fn ask_new_password(prompt: &str) -> anyhow::Result<String> {
    dialoguer::Password::new()
        .with_prompt(prompt)
        .with_confirmation("Repeat it", "the two differ; try again")
        .interact_on(&Term::stderr())
        .map_err(prompt_error)
}

pub(super) fn prompt_error(e: dialoguer::Error) -> anyhow::Error {
    anyhow::anyhow!("reading the answer failed: {e}")
}

/// The first `n` lines of standard input, without their line endings; each is
/// read only up to [`MAX_PASSWORD_LINE_BYTES`].
pub(super) fn read_stdin_lines(n: usize) -> anyhow::Result<Vec<String>> {
    let stdin = std::io::stdin();
    read_lines(&mut stdin.lock(), n)
}

fn read_lines(input: &mut dyn BufRead, n: usize) -> anyhow::Result<Vec<String>> {
    let mut lines = Vec::with_capacity(n);
    for i in 0..n {
        let mut line = Vec::new();
        std::io::Read::take(&mut *input, MAX_PASSWORD_LINE_BYTES + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| anyhow::anyhow!("reading standard input: {e}"))?;
        let ended = line.last() == Some(&b'\n');
        anyhow::ensure!(
            ended || (line.len() as u64) <= MAX_PASSWORD_LINE_BYTES,
            "line {} of standard input is longer than {MAX_PASSWORD_LINE_BYTES} bytes; a password is at most 256 characters",
            i + 1
        );
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        let text = String::from_utf8(line)
            .map_err(|_| anyhow::anyhow!("line {} of standard input is not UTF-8", i + 1))?;
        anyhow::ensure!(
            !text.is_empty(),
            "line {} of standard input is empty; expected {}",
            i + 1,
            if n == 1 {
                "the password on the first line".to_string()
            } else {
                format!("{n} lines: the current password, then the new one")
            }
        );
        lines.push(text);
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdin_lines_lose_their_endings_and_are_bounded() {
        let mut input: &[u8] = b"first pass\r\nsecond\nthird";
        assert_eq!(read_lines(&mut input, 2).unwrap(), ["first pass", "second"]);
        let mut short: &[u8] = b"only one\n";
        let err = read_lines(&mut short, 2).unwrap_err().to_string();
        assert!(
            err.contains("line 2") && err.contains("the new one"),
            "{err}"
        );
        let long = vec![b'a'; MAX_PASSWORD_LINE_BYTES as usize + 10];
        let err = read_lines(&mut long.as_slice(), 1).unwrap_err().to_string();
        assert!(err.contains("longer than"), "{err}");
        let mut exact: &[u8] = &vec![b'b'; MAX_PASSWORD_LINE_BYTES as usize];
        assert_eq!(read_lines(&mut exact, 1).unwrap()[0].len(), 4096);
    }
}
