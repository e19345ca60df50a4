//! The level (niveau) of a division, from the national MEF codes (modules élémentaires
//! de formation) that SIECLE and STS-Web attach to divisions and students.
//!
//! A MEF code has 11 characters; its first three digits are the "dispositif de
//! formation" (BCN table N_DISPOSITIF_FORMATION): 100 to 103 the four years of collège,
//! 200 to 202 the lycée général et technologique, 240s the lycée professionnel.

/// The level of a division whose MEF code is `mef` (and whose nomenclature calls it
/// `formation`, e.g. `4EME`), falling back on the division's own code (`4A` is a 4e).
pub fn level(mef: Option<&str>, formation: Option<&str>, division: &str) -> String {
    formation
        .and_then(from_formation)
        .or_else(|| mef.and_then(from_code))
        .or_else(|| from_division(division))
        .unwrap_or_else(|| mef.unwrap_or(division).to_string())
}

fn from_formation(formation: &str) -> Option<String> {
    let f = formation.trim().to_uppercase();
    let level = match f.as_str() {
        _ if f.starts_with("6EME") => "6e",
        _ if f.starts_with("5EME") => "5e",
        _ if f.starts_with("4EME") => "4e",
        _ if f.starts_with("3EME") => "3e",
        _ if f.starts_with("2NDE") || f.starts_with("2DE") => "2nde",
        _ if f.starts_with("1ERE") || f.starts_with("1RE") => "1re",
        _ if f.starts_with("TLE") || f.starts_with("TERM") => "Tle",
        _ => return None,
    };
    Some(level.to_string())
}

fn from_code(mef: &str) -> Option<String> {
    let level = match mef.get(..3)? {
        "100" => "6e",
        "101" => "5e",
        "102" => "4e",
        "103" | "167" => "3e",
        "200" | "247" => "2nde",
        "201" | "246" => "1re",
        "202" | "245" => "Tle",
        _ => return None,
    };
    Some(level.to_string())
}

fn from_division(division: &str) -> Option<String> {
    let level = match division.trim().chars().next()? {
        '6' => "6e",
        '5' => "5e",
        '4' => "4e",
        '3' => "3e",
        '2' => "2nde",
        '1' => "1re",
        'T' | 't' => "Tle",
        _ => return None,
    };
    Some(level.to_string())
}

#[cfg(test)]
mod tests {
    use super::level;

    #[test]
    fn levels_from_the_nomenclature_the_code_or_the_division() {
        assert_eq!(level(Some("10210001110"), Some("4EME"), "X"), "4e");
        assert_eq!(level(Some("10010012110"), None, "X"), "6e");
        assert_eq!(level(Some("20010018110"), None, "X"), "2nde");
        assert_eq!(level(None, None, "3B"), "3e");
        assert_eq!(level(Some("99999999999"), None, "ULIS"), "99999999999");
        assert_eq!(level(None, None, "ULIS"), "ULIS");
    }
}
