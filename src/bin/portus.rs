//! The `portus` program; see `portus --help`.

/// The token path allocates a few dozen small objects per request; mimalloc serves them from
/// per-thread pages at a fraction of the C library's cost (measured with
/// `scripts/bench-token.sh`, see README's performance section).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    portus::cli::main()
}
