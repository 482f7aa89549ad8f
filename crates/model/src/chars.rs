//! Character classes shared by validation (ids) and text normalization.

/// True for invisible characters: every character of Unicode general category Cf (format:
/// zero-width space and joiners, directional marks, embeddings, overrides and isolates,
/// soft hyphen, word joiner, invisible operators, BOM, tags…) plus the Hangul fillers
/// (`U+115F`, `U+1160`, `U+3164`, `U+FFA0`), which are letters by category but render as
/// nothing and are a favourite padding character.
#[inline]
pub fn is_invisible(c: char) -> bool {
    matches!(
        c as u32,
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x115F..=0x1160
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0x3164
            | 0xFEFF
            | 0xFFA0
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}
