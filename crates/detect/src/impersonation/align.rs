//! Weighted alignment of a name against a protected name: an edit distance in which the
//! evasions an impersonator uses cost less than real differences.
//!
//! Costs are in quarters of an edit: a substitution, insertion or deletion costs a whole
//! edit ([`EDIT`]); adding or dropping a level word of a place name (`省`, `市`, `县`, `区`)
//! half of one; writing a character as its pinyin (`法治雁ta` for `法治雁塔`) a quarter.
//! [`budget`] is what a protected name of a given length tolerates.

use pinyin::ToPinyinMulti;

use super::lexicon::LEVEL_CHARS;

/// A substitution, insertion or deletion.
pub const EDIT: u16 = 4;
/// Adding or dropping a level word (`县`).
const LEVEL: u16 = 2;
/// A character written as its pinyin.
const PINYIN: u16 = 1;

/// The cost a protected name of `len` characters tolerates. Names of two characters must
/// match exactly (one edit away from a two-character name is half of any name); three
/// characters allow pinyin or a level word, but no real edit; four to five, one edit; six
/// to nine, one and a half; longer names, two.
pub fn budget(len: usize) -> u16 {
    match len {
        0..=2 => 0,
        3 => EDIT / 2,
        4..=5 => EDIT,
        6..=9 => EDIT + EDIT / 2,
        _ => 2 * EDIT,
    }
}

/// How a name aligned with a protected name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Alignment {
    pub cost: u16,
    /// Substitutions, insertions and deletions (level words included).
    pub edits: u8,
    /// Characters written as pinyin.
    pub pinyin: u8,
}

#[derive(Clone, Copy)]
struct Cell {
    cost: u16,
    edits: u8,
    pinyin: u8,
}

impl Cell {
    const MAX: Cell = Cell { cost: u16::MAX / 2, edits: 0, pinyin: 0 };

    fn step(self, cost: u16, edits: u8, pinyin: u8) -> Cell {
        Cell {
            cost: self.cost.saturating_add(cost),
            edits: self.edits.saturating_add(edits),
            pinyin: self.pinyin.saturating_add(pinyin),
        }
    }

    fn better(self, other: Cell) -> Cell {
        if (other.cost, other.edits) < (self.cost, self.edits) { other } else { self }
    }
}

/// Reusable buffers of [`Aligner::align`].
#[derive(Default)]
pub struct Aligner {
    cells: Vec<Cell>,
    readings: Vec<Vec<&'static str>>,
}

fn indel(c: char) -> u16 {
    if LEVEL_CHARS.contains(&c) { LEVEL } else { EDIT }
}

/// Whether `letters` spell `reading` (`ü` may be written `u` or `v`).
fn spells(letters: &[char], reading: &str) -> bool {
    let mut it = letters.iter();
    for r in reading.chars() {
        match (it.next(), r) {
            (Some(&l), 'ü') if l == 'u' || l == 'v' || l == 'ü' => {}
            (Some(&l), r) if l == r => {}
            _ => return false,
        }
    }
    it.next().is_none()
}

impl Aligner {
    /// Aligns `name` (wholly) with `protected` (wholly), giving up as soon as the cost must
    /// exceed `limit`: `None` then.
    pub fn align(&mut self, name: &[char], protected: &[char], limit: u16) -> Option<Alignment> {
        let (n, m) = (name.len(), protected.len());
        // Every character of length difference costs at least a level word, unless the name
        // has letters that may be pinyin.
        let letters = name.iter().any(|c| c.is_ascii_lowercase());
        if !letters && (n.abs_diff(m) as u16).saturating_mul(LEVEL) > limit {
            return None;
        }
        self.readings.clear();
        if letters {
            for &c in protected {
                let mut r: Vec<&'static str> = Vec::new();
                if let Some(multi) = c.to_pinyin_multi() {
                    r.extend(multi.into_iter().map(|p| p.plain()));
                }
                self.readings.push(r);
            }
        }
        let w = m + 1;
        self.cells.clear();
        self.cells.resize((n + 1) * w, Cell::MAX);
        self.cells[0] = Cell { cost: 0, edits: 0, pinyin: 0 };
        for j in 1..=m {
            self.cells[j] = self.cells[j - 1].step(indel(protected[j - 1]), 1, 0);
        }
        for i in 1..=n {
            let a = name[i - 1];
            self.cells[i * w] = self.cells[(i - 1) * w].step(indel(a), 1, 0);
            let mut row_min = self.cells[i * w].cost;
            for j in 1..=m {
                let b = protected[j - 1];
                let diag = self.cells[(i - 1) * w + j - 1];
                let mut best = if a == b { diag } else { diag.step(EDIT, 1, 0) };
                best = best.better(self.cells[(i - 1) * w + j].step(indel(a), 1, 0));
                best = best.better(self.cells[i * w + j - 1].step(indel(b), 1, 0));
                if letters && a.is_ascii_lowercase() {
                    for r in &self.readings[j - 1] {
                        let len = r.chars().count();
                        if len <= i && spells(&name[i - len..i], r) {
                            best = best.better(self.cells[(i - len) * w + j - 1].step(PINYIN, 0, 1));
                        }
                    }
                }
                self.cells[i * w + j] = best;
                row_min = row_min.min(best.cost);
            }
            // A pinyin reading reaches back over several rows, so only prune when no letters.
            if !letters && row_min > limit {
                return None;
            }
        }
        let end = self.cells[n * w + m];
        (end.cost <= limit).then_some(Alignment { cost: end.cost, edits: end.edits, pinyin: end.pinyin })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn align(a: &str, b: &str) -> Option<Alignment> {
        let a: Vec<char> = a.chars().collect();
        let b: Vec<char> = b.chars().collect();
        Aligner::default().align(&a, &b, 16)
    }

    #[test]
    fn evasions_cost_less_than_edits() {
        assert_eq!(align("青川公安", "青川公安"), Some(Alignment { cost: 0, edits: 0, pinyin: 0 }));
        assert_eq!(align("青川县公安", "青川公安"), Some(Alignment { cost: LEVEL, edits: 1, pinyin: 0 }));
        assert_eq!(align("青chuan公安", "青川公安"), Some(Alignment { cost: PINYIN, edits: 0, pinyin: 1 }));
        assert_eq!(align("qing川gong安", "青川公安").map(|a| a.pinyin), Some(2));
        assert_eq!(align("青州公安", "青川公安"), Some(Alignment { cost: EDIT, edits: 1, pinyin: 0 }));
        assert_eq!(align("青公安", "青川公安").map(|a| a.cost), Some(EDIT));
        // ü is written u or v.
        assert_eq!(align("lv色", "绿色").map(|a| a.pinyin), Some(1));
    }

    #[test]
    fn gives_up_past_the_limit() {
        let a: Vec<char> = "完全不同的名字".chars().collect();
        let b: Vec<char> = "青川公安".chars().collect();
        assert_eq!(Aligner::default().align(&a, &b, EDIT), None);
        assert_eq!(Aligner::default().align(&[], &b, EDIT), None);
        assert!(Aligner::default().align(&[], &[], 0).is_some());
    }

    #[test]
    fn budget_grows_with_length() {
        assert_eq!(budget(2), 0);
        assert!(budget(3) < EDIT);
        assert_eq!(budget(4), EDIT);
        assert!(budget(12) >= 2 * EDIT);
    }
}
