//! Entry points for the fuzz targets (not part of the API).

use crate::target::{GivenHost, Target};

/// Reads arbitrary bytes (lossy UTF-8) as a target and as a given host: an error points
/// inside the input, and what reads comes back the same from its text.
pub fn target(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let chars = text.chars().count();
    match text.parse::<Target>() {
        Ok(t) => {
            let again = t.to_string().parse::<Target>();
            assert_eq!(again.as_ref(), Ok(&t), "{text:?} reads back from {t}");
            if let Some(host) = t.given_host() {
                assert_eq!(host.to_string().parse::<GivenHost>(), Ok(host));
            }
        }
        Err(e) => {
            assert!(e.position <= chars, "{e}");
            assert!(!e.to_string().is_empty());
        }
    }
    if let Err(e) = text.parse::<GivenHost>() {
        assert!(e.position <= chars, "{e}");
    }
}
