//! Professional fields, named as `credential.verified` names them, and small sets of them.

/// A field whose titles need a qualification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Medicine,
    Pharmacy,
    Law,
    Education,
    Psychology,
    Nutrition,
    Finance,
    Accounting,
}

impl Field {
    pub const ALL: [Field; 8] = [
        Field::Medicine,
        Field::Pharmacy,
        Field::Law,
        Field::Education,
        Field::Psychology,
        Field::Nutrition,
        Field::Finance,
        Field::Accounting,
    ];

    /// The name credentials and signals use.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Medicine => "medicine",
            Field::Pharmacy => "pharmacy",
            Field::Law => "law",
            Field::Education => "education",
            Field::Psychology => "psychology",
            Field::Nutrition => "nutrition",
            Field::Finance => "finance",
            Field::Accounting => "accounting",
        }
    }

    /// The field of a credential's `field` value (case and surrounding spaces ignored).
    pub fn from_name(name: &str) -> Option<Field> {
        let name = name.trim();
        Field::ALL.into_iter().find(|f| f.as_str().eq_ignore_ascii_case(name))
    }
}

/// A set of fields, one bit each: what an account holds credentials for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FieldSet(u8);

impl FieldSet {
    pub fn insert(&mut self, field: Field) {
        self.0 |= 1 << field as u8;
    }

    pub fn contains(self, field: Field) -> bool {
        self.0 & (1 << field as u8) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sets_hold_each_field() {
        let mut set = FieldSet::default();
        for f in Field::ALL {
            assert_eq!(Field::from_name(f.as_str()), Some(f));
            assert!(!set.contains(f));
            set.insert(f);
            assert!(set.contains(f));
        }
        assert_eq!(Field::from_name(" Medicine "), Some(Field::Medicine));
        assert_eq!(Field::from_name("astrology"), None);
    }
}
