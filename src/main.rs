use std::process::ExitCode;

fn main() -> ExitCode {
    uptimeping::run()
}
