//! A small, strict command-line parser: `--flag VALUE` or `--flag=VALUE`, and
//! `-h`/`--help`. Anything unknown or malformed ends the program with a message and
//! the usage on stderr and exit code 2.

use std::fmt::Display;
use std::process;
use std::str::FromStr;
use std::time::Duration;

/// The arguments of one program, read flag by flag.
pub struct Args {
    prog: &'static str,
    usage: &'static str,
    rest: std::vec::IntoIter<String>,
}

/// One flag as given: its name and, for `--flag=VALUE`, the value.
pub struct Flag {
    /// The name, e.g. `--port`.
    pub name: String,
    inline: Option<String>,
}

impl Args {
    /// The process's arguments (without the program name).
    pub fn from_env(prog: &'static str, usage: &'static str) -> Self {
        let mut args = Vec::new();
        for arg in std::env::args_os().skip(1) {
            match arg.into_string() {
                Ok(arg) => args.push(arg),
                Err(arg) => fail(prog, usage, format_args!("argument is not UTF-8: {arg:?}")),
            }
        }
        Self {
            prog,
            usage,
            rest: args.into_iter(),
        }
    }

    /// The next flag, `None` at the end. A positional argument is an error, and
    /// `-h`/`--help` prints the usage on stdout and exits 0.
    pub fn next_flag(&mut self) -> Option<Flag> {
        let arg = self.rest.next()?;
        if arg == "-h" || arg == "--help" {
            print!("{}", self.usage);
            process::exit(0);
        }
        if !arg.starts_with("--") || arg == "--" {
            self.fail(format_args!("unexpected argument '{arg}'"));
        }
        Some(match arg.split_once('=') {
            Some((name, value)) => Flag {
                name: name.to_string(),
                inline: Some(value.to_string()),
            },
            None => Flag {
                name: arg,
                inline: None,
            },
        })
    }

    /// The value of `flag`.
    pub fn value(&mut self, flag: Flag) -> String {
        match flag.inline {
            Some(value) => value,
            None => match self.rest.next() {
                Some(value) => value,
                None => self.fail(format_args!("{} needs a value", flag.name)),
            },
        }
    }

    /// The value of `flag`, parsed; `what` describes a good value for the message.
    pub fn parse<T: FromStr>(&mut self, flag: Flag, what: &str) -> T {
        let name = flag.name.clone();
        let value = self.value(flag);
        match value.parse() {
            Ok(v) => v,
            Err(_) => self.fail(format_args!("{name}: '{value}' is not {what}")),
        }
    }

    /// The value of `flag` as seconds: a decimal number, at least 0 (`1.5`).
    pub fn seconds(&mut self, flag: Flag) -> Duration {
        let name = flag.name.clone();
        let secs: f64 = self.parse(flag, "a number of seconds");
        match Duration::try_from_secs_f64(secs) {
            Ok(d) => d,
            Err(_) => self.fail(format_args!("{name}: must be a number of seconds >= 0")),
        }
    }

    /// Check that a flag without a value (a switch) was not given one.
    pub fn switch(&self, flag: &Flag) {
        if flag.inline.is_some() {
            self.fail(format_args!("{} takes no value", flag.name));
        }
    }

    /// A flag the program does not know.
    pub fn unknown(&self, flag: &Flag) -> ! {
        self.fail(format_args!("unknown option '{}'", flag.name))
    }

    /// Print `prog: message` and the usage on stderr, exit 2.
    pub fn fail(&self, message: impl Display) -> ! {
        fail(self.prog, self.usage, message)
    }
}

fn fail(prog: &str, usage: &str, message: impl Display) -> ! {
    eprintln!("{prog}: {message}");
    eprint!("{usage}");
    process::exit(2);
}
