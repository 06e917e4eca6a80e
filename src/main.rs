//! The `smidge` binary: arguments ([`cli`]) → resolved settings ([`settings`]) → one
//! function per command ([`commands`]) → [`deliver`]. It owns exit codes: 2 for usage
//! errors, 1 for failures at run time, 128 + the signal for an interrupt ([`signals`]).
//! Every error is one line on stderr.

mod bar;
mod cli;
mod commands;
mod deliver;
mod settings;
mod signals;

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;
use cli::{Cli, Command};
use smidge::Program;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
                || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            {
                let _ = e.print();
                return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                };
            }
            // clap's first line says what is wrong, and a later one may list the values
            // it takes; the rest is a usage block we leave out.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            let values = text
                .lines()
                .map(str::trim)
                .find(|l| l.starts_with("[possible values:"))
                .map(|l| format!(" {l}"))
                .unwrap_or_default();
            eprintln!("smidge: error: {first}{values} (see smidge --help)");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = signals::install() {
        eprintln!("smidge: error: cannot handle signals: {e}");
        return ExitCode::from(1);
    }
    let result = run(cli);
    signals::settle();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("smidge: error: {e:#}");
            if e.is::<settings::Usage>() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Hello { args, build } => {
            let (program, stdin) = commands::hello(args)?;
            commands::build(program, &build, stdin)
        }
        Command::Pause { build } => commands::build(Program::Pause, &build, None),
        Command::Exit { args, build } => commands::build(Program::Exit(args.code), &build, None),
        Command::Serve { args, build } => {
            let (program, stdin) = commands::serve(args)?;
            commands::build(program, &build, stdin)
        }
        Command::Quine { build } => commands::quine(&build),
        Command::Pack(args) => commands::pack(&args),
        Command::Wrap {
            code,
            entry,
            bss,
            print_base,
            build,
        } => commands::wrap(code, entry, bss, print_base, &build),
        Command::Push {
            source,
            reference,
            registry,
        } => commands::push(&source, &reference, &registry),
        Command::Explain(args) => commands::explain(*args),
        Command::Login {
            registry,
            username,
            password,
            password_stdin,
            tls,
        } => commands::login(registry, username, password, password_stdin, &tls),
        Command::Logout { registry } => commands::logout(registry),
        Command::Completions { shell } => commands::completions(shell),
        Command::Man => commands::man(),
    }
}
