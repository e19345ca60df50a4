//! Names and identifiers of the demo's people: French names with the accents, apostrophes
//! and ligatures real rosters have, so every screen and export meets them.

use rand::seq::IndexedRandom;
use rand::Rng;

const FIRST_NAMES: &[&str] = &[
    "Léa",
    "Hugo",
    "Zoë",
    "Noah",
    "Chloé",
    "Louis",
    "Inès",
    "Gabriel",
    "Jade",
    "Raphaël",
    "Emma",
    "Arthur",
    "Lou",
    "Jules",
    "Mélissa",
    "Adam",
    "Hélène",
    "Maël",
    "Anaïs",
    "Éloïse",
    "Sacha",
    "Aïcha",
    "Théo",
    "Manon",
    "Noé",
    "Camille",
    "Yanis",
    "Clémence",
    "Mathéo",
    "Maëlys",
    "Amadou",
    "Fatoumata",
    "Kévin",
    "Océane",
    "Loïc",
    "Bérénice",
    "Jérôme",
    "Salomé",
    "Tiago",
    "Inaya",
    "François",
    "Agathe",
    "Ibrahim",
    "Romane",
    "Élias",
    "Capucine",
    "Mattéo",
    "Nour",
];

const LAST_NAMES: &[&str] = &[
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefèvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "André",
    "Lefebvre",
    "Mercier",
    "Dupont",
    "Lambert",
    "Bonnet",
    "François",
    "Martinez",
    "N'Guessan",
    "Diallo",
    "Nguyen",
    "Benali",
    "Œuvray",
    "Da Silva",
    "Le Goff",
    "Saint-Just",
    "Kouassi",
    "Ferreira",
    "Müller",
    "Bouchaïb",
    "Lemaître",
    "Chevalier",
    "Gauthier",
    "Perrin",
    "Brûlé",
    "Öztürk",
];

pub fn first_name(rng: &mut impl Rng) -> &'static str {
    FIRST_NAMES.choose(rng).copied().unwrap_or("Camille")
}

pub fn last_name(rng: &mut impl Rng) -> &'static str {
    LAST_NAMES.choose(rng).copied().unwrap_or("Martin")
}

/// An INE of the RNIE shape (9 digits, 2 letters), unique per `n`.
pub fn ine(n: usize) -> String {
    const LETTERS: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ";
    let a = char::from(LETTERS[n % LETTERS.len()]);
    let b = char::from(LETTERS[(n / LETTERS.len()) % LETTERS.len()]);
    format!("{:09}{a}{b}", 100_000_000 + n)
}
