//! The detector on identities and accounts the project made up; one test per evasion.

use steward_model::{Account, Event, Identity, IdentityKind};

use super::*;

fn identity(id: &str, name: &str, aliases: &[&str], kind: IdentityKind, owners: &[&str]) -> Identity {
    Identity {
        id: id.into(),
        name: name.into(),
        aliases: aliases.iter().map(|s| s.to_string()).collect(),
        kind,
        owner_account_ids: owners.iter().map(|s| s.to_string()).collect(),
        avatar_hashes: vec![],
    }
}

fn registry() -> Vec<Identity> {
    vec![
        identity("police", "青川县公安局", &["青川公安"], IdentityKind::Police, &["own-police"]),
        identity("paper", "江屿晚报", &[], IdentityKind::Media, &["own-paper"]),
        identity("court", "云岭市人民法院", &[], IdentityKind::Court, &[]),
        identity("tv", "西岚广播电视台", &[], IdentityKind::Media, &[]),
        identity("union", "北坡大学学生会", &[], IdentityKind::Campus, &[]),
        identity("gov", "平川发布", &[], IdentityKind::Government, &[]),
    ]
}

fn event(payload: Payload) -> Event {
    Event { id: "e".into(), at: chrono::Utc::now(), payload }
}

fn account(id: &str, name: &str, bio: &str, avatar: Option<&str>, followers: u64) -> Account {
    Account {
        id: id.into(),
        handle: id.into(),
        display_name: name.into(),
        bio: bio.into(),
        avatar_hash: avatar.map(str::to_string),
        followers,
        verified: false,
        identity: None,
        ip_region: None,
        monetization: vec![],
    }
}

fn detector(identities: &[Identity]) -> Impersonation {
    let mut d = Impersonation::default();
    let mut out = Findings::default();
    for i in identities {
        d.inspect(&Context { event: &event(Payload::IdentityUpserted(i.clone())), account: None }, &mut out);
    }
    assert!(out.signals.is_empty());
    d
}

/// A new account.
fn upsert(d: &mut Impersonation, a: Account) -> Option<Signal> {
    update(d, None, a)
}

/// An account upserted over its state `before`.
fn update(d: &mut Impersonation, before: Option<&Account>, a: Account) -> Option<Signal> {
    let mut out = Findings::default();
    d.inspect(&Context { event: &event(Payload::AccountUpserted(a)), account: before }, &mut out);
    assert!(out.signals.len() <= 1);
    out.signals.pop()
}

/// The identity a name is flagged as, and how.
fn flag(name: &str) -> Option<(String, String)> {
    let mut d = detector(&registry());
    let s = upsert(&mut d, account("someone", name, "", None, 0))?;
    let e = &s.evidence;
    assert_eq!(s.name, "impersonation");
    assert!((0.5..=1.0).contains(&s.score), "{name}: {}", s.score);
    Some((e["identity"].as_str().unwrap_or("").to_string(), e["how"].as_str().unwrap().to_string()))
}

fn assert_flag(name: &str, identity: &str, how: &str) {
    let (id, h) = flag(name).unwrap_or_else(|| panic!("{name} not flagged"));
    assert_eq!(id, identity, "{name}: {h}");
    assert!(h.split('+').any(|x| x == how), "{name}: how {h}, expected {how}");
}

#[test]
fn exact_names_are_flagged() {
    assert_flag("青川县公安局", "police", "exact");
    assert_flag("青川公安", "police", "exact");
    assert_flag(" 江屿晚报 ", "paper", "exact");
}

#[test]
fn traditional_characters() {
    assert_flag("青川縣公安局", "police", "exact-after-normalization");
    assert_flag("西嵐廣播電視臺", "tv", "exact-after-normalization");
}

#[test]
fn look_alike_characters() {
    // 酉 for 西: one edit in a seven-character name.
    assert_flag("酉岚广播电视台", "tv", "edit");
    // Full-width and Cyrillic look-alikes are folded by the normalizer.
    assert_flag("平川发布ｖ", "gov", "added-words");
}

#[test]
fn separators_and_zero_width_characters() {
    assert_flag("青川丨县·公安\u{200B}局", "police", "exact-after-normalization");
    assert_flag("江 屿_晚-报", "paper", "exact-after-normalization");
}

#[test]
fn added_words() {
    assert_flag("官方青川公安发布厅", "police", "added-words");
    assert_flag("江屿晚报粉丝后援会", "paper", "added-words");
    assert_flag("最新平川发布在线", "gov", "added-words");
    assert_flag("江屿晚报2", "paper", "added-words");
    // Padding words in pinyin.
    assert_flag("guanfang江屿晚报", "paper", "added-words");
}

#[test]
fn emoji() {
    assert_flag("江屿👮晚报🇨🇳", "paper", "exact-after-normalization");
    assert_flag("⭐北坡大学学生会[微笑]", "union", "exact-after-normalization");
}

#[test]
fn dropped_characters() {
    assert_flag("北坡大学生会", "union", "edit");
    assert_flag("西岚广播电台", "tv", "edit");
}

#[test]
fn synonyms() {
    assert_flag("青川县警方", "police", "synonym");
    assert_flag("云岭市法院", "court", "synonym");
    assert_flag("西岚电视台", "tv", "synonym");
}

#[test]
fn pinyin_for_a_character() {
    assert_flag("江yu晚报", "paper", "pinyin");
    assert_flag("平chuan发布", "gov", "pinyin");
    assert_flag("北坡da学学生会", "union", "pinyin");
}

#[test]
fn combinations() {
    assert_flag("官方青川縣警方", "police", "synonym");
    assert_flag("最新江yu晚報", "paper", "pinyin");
}

#[test]
fn place_joined_to_an_official_word() {
    // 苍溪县 is a real county with no registered identity here.
    let mut d = detector(&registry());
    let s = upsert(&mut d, account("a1", "苍溪县消防", "", None, 0)).expect("flagged");
    assert_eq!(s.evidence["identity"], Value::Null);
    assert_eq!(s.evidence["how"], "place-official");
    assert_eq!(s.evidence["identity_name"], "an official body of 苍溪县");
    assert_eq!(s.evidence["place"], "510824");
    assert!(upsert(&mut d, account("a2", "苍溪的风景", "", None, 0)).is_none());
}

#[test]
fn ordinary_names_are_not_flagged() {
    for name in [
        "小王的日常",
        "爱吃火锅的江屿",
        "晚报爱好者",
        "江屿晚报社区",
        "北坡大学的猫",
        "公安",
        "警察叔叔好",
        "发布",
        "平川",
        "Miss笑笑4231",
        "胡杨木9621_87j",
        "",
        "🙂🙂🙂",
        "a",
    ] {
        assert_eq!(flag(name), None, "{name}");
    }
}

#[test]
fn owners_are_never_flagged() {
    let mut d = detector(&registry());
    assert!(upsert(&mut d, account("own-police", "青川县公安局", "", None, 0)).is_none());
    // Not even under another registered name.
    assert!(upsert(&mut d, account("own-paper", "青川公安", "", None, 0)).is_none());
    assert!(upsert(&mut d, account("intruder", "青川公安", "", None, 0)).is_some());
}

#[test]
fn verified_organisations_are_not_flagged_for_looking_like_themselves() {
    let mut d = detector(&registry());
    let verified = |id: &str, name: &str, as_name: &str| Account {
        verified: true,
        identity: Some(steward_model::VerifiedIdentity { name: as_name.into(), kind: "organization".into() }),
        ..account(id, name, "", None, 0)
    };
    assert!(upsert(&mut d, verified("o1", "青川公安", "青川县公安局")).is_none());
    assert!(upsert(&mut d, verified("o2", "苍溪县消防", "苍溪县消防救援大队")).is_none());
    // Verified as something else, it is still flagged.
    assert!(upsert(&mut d, verified("o3", "江屿晚报", "某某文化传媒有限公司")).is_some());
}

#[test]
fn a_rename_to_an_official_name_is_flagged_at_the_rename() {
    let mut d = detector(&registry());
    let plain = account("r1", "小王的日常", "", None, 10);
    assert!(upsert(&mut d, plain.clone()).is_none());
    assert!(update(&mut d, Some(&plain), account("r1", "小王的日常", "", None, 20)).is_none());
    let renamed = account("r1", "官方青川公安", "", None, 20);
    let s = update(&mut d, Some(&plain), renamed.clone()).expect("flagged at the rename");
    assert_eq!(s.evidence["identity"], "police");
    // Unchanged since: not flagged again on a follower update.
    assert!(update(&mut d, Some(&renamed), account("r1", "官方青川公安", "", None, 30)).is_none());
    // A new avatar is a change: checked again.
    let avatar = account("r1", "官方青川公安", "", Some("0123456789abcdef"), 30);
    assert!(update(&mut d, Some(&renamed), avatar).is_some());
}

#[test]
fn avatars_close_to_a_registered_one_are_flagged() {
    let mut with_avatar = registry();
    with_avatar[1].avatar_hashes = vec!["f0e1d2c3b4a59687".into()];
    let mut d = detector(&with_avatar);
    let s = upsert(&mut d, account("v1", "随便看看", "", Some("f0e1d2c3b4a59684"), 0)).expect("flagged");
    assert_eq!(s.evidence["identity"], "paper");
    assert_eq!(s.evidence["how"], "avatar");
    assert_eq!(s.evidence["avatar_distance"], 2);
    let s = upsert(&mut d, account("v2", "江屿晚报", "", Some("f0e1d2c3b4a59687"), 0)).expect("flagged");
    assert_eq!(s.evidence["how"], "exact+avatar");
    assert!(upsert(&mut d, account("v3", "随便看看", "", Some("0f1e2d3c4b5a6978"), 0)).is_none());
    assert!(upsert(&mut d, account("v4", "随便看看", "", Some("not a hash"), 0)).is_none());
}

#[test]
fn a_bio_claiming_to_be_the_official_account_is_flagged() {
    let mut d = detector(&registry());
    let s = upsert(&mut d, account("b1", "小王", "江屿晚报官方微博，欢迎投稿", None, 0)).expect("flagged");
    assert_eq!((s.evidence["identity"].as_str(), s.evidence["how"].as_str()), (Some("paper"), Some("bio")));
    let s = upsert(&mut d, account("b2", "小王", "这里是【江屿晚报】官微", None, 0)).expect("flagged");
    assert_eq!(s.evidence["identity"], "paper");
    assert!(upsert(&mut d, account("b3", "小王", "我在江屿晚报工作", None, 0)).is_none());
    assert!(upsert(&mut d, account("b4", "小王", "转载自江屿晚报官方微博", None, 0)).is_none());
}

#[test]
fn registry_updates_replace_names() {
    let mut d = detector(&registry());
    let renamed = identity("paper", "海湾晨报", &[], IdentityKind::Media, &[]);
    d.inspect(&Context { event: &event(Payload::IdentityUpserted(renamed)), account: None }, &mut Findings::default());
    assert!(upsert(&mut d, account("u1", "江屿晚报", "", None, 0)).is_none());
    assert!(upsert(&mut d, account("u2", "海湾晨报", "", None, 0)).is_some());
}

#[test]
fn bad_input_never_panics() {
    let mut d = detector(&registry());
    let long = "青川".repeat(5000);
    let names = [
        long.as_str(),
        "\u{0}\u{1}\u{7f}",
        "\u{202E}报晚屿江",
        "e\u{301}\u{301}\u{301}",
        "𠀀𠀁𠀂",
        "[[[[]]]]",
        "qingchuangongan",
        "1234567890",
    ];
    for (i, name) in names.iter().enumerate() {
        upsert(&mut d, account(&format!("x{i}"), name, name, Some(name), 0));
    }
    // Identities with names that cannot be matched are kept and harmless.
    let odd = identity("odd", "@", &["", "🙂"], IdentityKind::Brand, &[""]);
    d.inspect(&Context { event: &event(Payload::IdentityUpserted(odd)), account: None }, &mut Findings::default());
    assert!(upsert(&mut d, account("x-last", "@", "", None, 0)).is_none());
}

#[test]
fn the_signal_declares_its_evidence() {
    let mut d = detector(&registry());
    let s = upsert(&mut d, account("s1", "青川縣警方", "", None, 0)).unwrap();
    for key in s.evidence.keys() {
        assert!(SPECS[0].evidence.contains(&key.as_str()), "{key}");
    }
    assert_eq!(s.evidence["kind"], "police");
    assert_eq!(s.evidence["identity_name"], "青川县公安局");
    assert_eq!(s.detector, NAME);
}
