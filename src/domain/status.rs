//! `CaseStatus`: where a case stands in the procedure, and the moves allowed between states.

use std::fmt;
use std::str::FromStr;

/// The life of a case. Escalation to the director is recorded beside the status (a case
/// stays open while the director looks at it), not as a status of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaseStatus {
    /// Registered; the complainant is waiting for our reaction (5 working days).
    Open,
    /// Our reaction went out; the case must be closed within 14 working days after it.
    Reacted,
    /// Closed with handler, cause, solution and agreement recorded.
    Closed,
    /// The complainant appealed; the exam committee has the case.
    Appealed,
    /// The committee's verdict is in; binding, nothing changes any more.
    Final,
    /// Registered by mistake (a question, not a complaint); excluded from the analysis.
    Withdrawn,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 6] = [
        Self::Open,
        Self::Reacted,
        Self::Closed,
        Self::Appealed,
        Self::Final,
        Self::Withdrawn,
    ];

    /// The stored spelling; also what `klachtd cases --json` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Reacted => "reacted",
            Self::Closed => "closed",
            Self::Appealed => "appealed",
            Self::Final => "final",
            Self::Withdrawn => "withdrawn",
        }
    }

    /// Dutch label for mail and the register.
    pub fn dutch(self) -> &'static str {
        match self {
            Self::Open => "open, wacht op reactie",
            Self::Reacted => "reactie verstuurd, wacht op afhandeling",
            Self::Closed => "afgehandeld",
            Self::Appealed => "in beroep bij de examencommissie",
            Self::Final => "definitief (uitspraak examencommissie)",
            Self::Withdrawn => "ingetrokken (geen klacht)",
        }
    }

    /// English label for mail.
    pub fn english(self) -> &'static str {
        match self {
            Self::Open => "open, awaiting our reply",
            Self::Reacted => "replied, awaiting closure",
            Self::Closed => "resolved",
            Self::Appealed => "under appeal with the exam committee",
            Self::Final => "final (exam committee's decision)",
            Self::Withdrawn => "withdrawn (not a complaint)",
        }
    }

    /// The label in `lang`.
    pub fn label(self, lang: crate::domain::Language) -> &'static str {
        match lang {
            crate::domain::Language::Nl => self.dutch(),
            crate::domain::Language::En => self.english(),
        }
    }

    /// Whether the case still needs work from staff (and so has a running deadline).
    pub fn is_active(self) -> bool {
        matches!(self, Self::Open | Self::Reacted | Self::Appealed)
    }

    /// The one table of allowed moves.
    pub fn can_become(self, next: CaseStatus) -> bool {
        use CaseStatus::*;
        matches!(
            (self, next),
            (Open, Reacted)
                | (Open | Reacted, Closed)
                | (Open | Reacted, Withdrawn)
                | (Closed | Reacted | Open, Appealed)
                | (Appealed, Final)
                | (Closed | Withdrawn, Open | Reacted)
        )
    }
}

impl fmt::Display for CaseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown case status '{0}'")]
pub struct UnknownStatus(pub String);

impl FromStr for CaseStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::CaseStatus::*;
    use super::*;

    #[test]
    fn stored_names_round_trip() {
        for st in CaseStatus::ALL {
            assert_eq!(st.as_str().parse::<CaseStatus>().unwrap(), st);
        }
    }

    #[test]
    fn a_final_verdict_is_final() {
        for next in CaseStatus::ALL {
            assert!(!Final.can_become(next), "final → {next}");
        }
        assert!(Appealed.can_become(Final));
        assert!(!Open.can_become(Final));
        assert!(Closed.can_become(Open), "reopen");
    }
}
