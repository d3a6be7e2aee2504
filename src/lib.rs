#![doc = include_str!("../README.md")]

pub use checktls_batch as batch;
pub use checktls_dns as dns;
pub use checktls_score as score;
pub use checktls_smtp as smtp;
pub use checktls_tls as tls;
