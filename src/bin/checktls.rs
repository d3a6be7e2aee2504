//! The `checktls` command.
fn main() {}
