//! The `portus` program; see `portus --help`.

fn main() -> std::process::ExitCode {
    portus::cli::main()
}
