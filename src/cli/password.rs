//! Reading a password for `--password-stdin`: from a pipe as it comes, at a terminal with a
//! prompt, without echo, asked twice.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::Path;

use portus_core::traits::Secret;

use crate::Error;

/// The password on standard input: prompted for (twice, without echo) when standard input is
/// a terminal, else read to its end as a script pipes it.
pub(super) fn read_password() -> Result<Secret, Error> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let first = prompt("Password: ")?;
        let second = prompt("Confirm password: ")?;
        return confirmed(&first, &second);
    }
    let mut input = String::new();
    stdin.lock().read_to_string(&mut input).map_err(stdin_error)?;
    piped(&input)
}

/// The current password (for `--current-password-stdin`) and, with `new`, a new one: at a
/// terminal the current one is asked for once and the new one twice; from a pipe the first line
/// is the current password and the rest the new one.
pub(super) fn read_current_and_new(new: bool) -> Result<(Secret, Option<Secret>), Error> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let current = prompt("Current password: ")?;
        let new = new.then(|| {
            let first = prompt("New password: ")?;
            let second = prompt("Confirm new password: ")?;
            confirmed(&first, &second)
        });
        return Ok((piped(&current)?, new.transpose()?));
    }
    let mut input = String::new();
    stdin.lock().read_to_string(&mut input).map_err(stdin_error)?;
    split_current_and_new(&input, new)
}

/// A piped current password, and the new one on the lines after it when `new`.
fn split_current_and_new(input: &str, new: bool) -> Result<(Secret, Option<Secret>), Error> {
    if !new {
        return Ok((piped(input)?, None));
    }
    let (current, rest) = input.split_once('\n').ok_or_else(|| {
        Error::Usage(
            "--current-password-stdin with --password-stdin: give the current password on the first line, \
             the new one after it"
                .into(),
        )
    })?;
    Ok((
        piped(current.strip_suffix('\r').unwrap_or(current))?,
        Some(piped(rest)?),
    ))
}

/// A piped password: the input without its final line end; empty input is refused.
fn piped(input: &str) -> Result<Secret, Error> {
    let password = strip_line_end(input);
    if password.is_empty() {
        return Err(Error::Usage("--password-stdin: standard input was empty".into()));
    }
    Ok(Secret::new(password))
}

/// A prompted password: both entries must be the same and not empty.
fn confirmed(first: &str, second: &str) -> Result<Secret, Error> {
    if first.is_empty() {
        return Err(Error::Usage("no password was entered".into()));
    }
    if first != second {
        return Err(Error::Usage("the two passwords differ: nothing was changed".into()));
    }
    Ok(Secret::new(first))
}

fn strip_line_end(input: &str) -> &str {
    input
        .strip_suffix('\n')
        .map(|s| s.strip_suffix('\r').unwrap_or(s))
        .unwrap_or(input)
}

fn stdin_error(source: std::io::Error) -> Error {
    Error::Io {
        path: Path::new("<stdin>").into(),
        source,
    }
}

/// Shows `text` on standard error and reads one line from the terminal with echo off.
fn prompt(text: &str) -> Result<String, Error> {
    let mut stderr = std::io::stderr();
    let line = {
        // Echo goes off before the prompt shows: whoever answers the prompt at once must
        // not be echoed, nor lose what they typed.
        let _quiet = EchoOff::new()?;
        let _ = write!(stderr, "{text}");
        let _ = stderr.flush();
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(stdin_error)?;
        line
    };
    // The Enter the user typed was not echoed either.
    let _ = writeln!(stderr);
    Ok(strip_line_end(&line).to_owned())
}

/// Echo of standard input turned off until dropped (also when reading fails).
#[cfg(unix)]
struct EchoOff(rustix::termios::Termios);

#[cfg(unix)]
impl EchoOff {
    fn new() -> Result<Self, Error> {
        use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
        let stdin = std::io::stdin();
        let saved = tcgetattr(&stdin).map_err(|e| stdin_error(e.into()))?;
        let mut quiet = saved.clone();
        quiet.local_modes.remove(LocalModes::ECHO);
        // Line editing stays on, so the line still ends at Enter; only the echo goes.
        quiet.local_modes.insert(LocalModes::ECHONL);
        // `Now`, not `Flush`: flushing would discard a line typed before echo went off.
        tcsetattr(&stdin, OptionalActions::Now, &quiet).map_err(|e| stdin_error(e.into()))?;
        Ok(EchoOff(saved))
    }
}

#[cfg(unix)]
impl Drop for EchoOff {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(std::io::stdin(), rustix::termios::OptionalActions::Now, &self.0);
    }
}

/// Elsewhere the terminal keeps echoing: no portable way without another dependency.
#[cfg(not(unix))]
struct EchoOff;

#[cfg(not(unix))]
impl EchoOff {
    fn new() -> Result<Self, Error> {
        Ok(EchoOff)
    }
}

#[cfg(test)]
mod tests {
    use super::{confirmed, piped, split_current_and_new};

    #[test]
    fn current_and_new_passwords_come_a_line_each() {
        let (current, new) = split_current_and_new("old pass\r\nnew pass\n", true).unwrap();
        assert_eq!((current.expose(), new.unwrap().expose()), ("old pass", "new pass"));
        let (current, new) = split_current_and_new("old pass\n", false).unwrap();
        assert_eq!((current.expose(), new.is_none()), ("old pass", true));
        assert!(split_current_and_new("only one\n", true).is_err());
        assert!(split_current_and_new("old\n\n", true).is_err(), "an empty new password");
    }

    #[test]
    fn a_piped_password_loses_its_line_end_only() {
        assert_eq!(piped("s3cret\n").unwrap().expose(), "s3cret");
        assert_eq!(piped("s3cret\r\n").unwrap().expose(), "s3cret");
        assert_eq!(piped(" two words \n").unwrap().expose(), " two words ");
        assert!(piped("").is_err() && piped("\n").is_err());
    }

    #[test]
    fn a_prompted_password_must_be_entered_twice_alike() {
        assert_eq!(confirmed("s3cret", "s3cret").unwrap().expose(), "s3cret");
        assert!(confirmed("s3cret", "s3cre").unwrap_err().to_string().contains("differ"));
        assert!(confirmed("", "").is_err());
    }
}
