//! The `cass` binary only wires the library's front end to the process.

fn main() {
    std::process::exit(cass::cli::main());
}
