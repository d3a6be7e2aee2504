//! The crate's error: only a tuned [`ScoreTable`](crate::ScoreTable) can be wrong; scoring
//! itself never fails.

use crate::table::Band;

/// Why a [`ScoreTable`](crate::ScoreTable) is not coherent ([`ScoreTable::validate`](crate::ScoreTable::validate)).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A band's base does not lie between its floor and ceiling.
    #[error("band {band}: base {base} is not within {floor}..={ceiling}")]
    BandShape {
        /// The band.
        band: Band,
        /// Its floor.
        floor: u16,
        /// Its base.
        base: u16,
        /// Its ceiling.
        ceiling: u16,
    },
    /// Two neighbouring bands overlap or are out of order.
    #[error("band {lower} reaches into band {upper}")]
    BandOrder {
        /// The band that should be lower.
        lower: Band,
        /// The band that should be higher.
        upper: Band,
    },
    /// The stage points can carry a host without TLS past the no-encryption band.
    #[error("stage points total {total}, but the no-encryption band has room for {room}")]
    StagePointsOverflow {
        /// The sum of the stage points.
        total: u32,
        /// The band's ceiling minus its base.
        room: u16,
    },
    /// A TLS band's base plus the MTA-STS and DANE points passes the band's ceiling.
    #[error("band {band}: base {base} + bonus {bonus} passes the ceiling {ceiling}")]
    BonusOverflow {
        /// The band.
        band: Band,
        /// Its base.
        base: u16,
        /// The most MTA-STS and DANE can add.
        bonus: u32,
        /// Its ceiling.
        ceiling: u16,
    },
    /// A harsher finding costs fewer points than a milder one (or a broken threshold lies above
    /// a weak one), which would let a worse host score higher.
    #[error("`{larger}` must be at least `{smaller}`")]
    Inverted {
        /// The table entry that must be the larger.
        larger: &'static str,
        /// The table entry it must not fall below.
        smaller: &'static str,
    },
    /// A weight is zero.
    #[error("every weight must be positive")]
    ZeroWeight,
    /// A less preferred rank weighs more than a more preferred one.
    #[error("preference weight of rank {rank} is larger than the one before it")]
    RisingWeights {
        /// The rank (0 = most preferred) whose weight rises.
        rank: usize,
    },
}
