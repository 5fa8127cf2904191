//! The `portus` program; see `portus --help`.

fn main() -> std::process::ExitCode {
    portus::http::cli::main()
}
