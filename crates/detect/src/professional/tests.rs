//! The detector on accounts and posts the project made up: claims with advice, disguised
//! titles, mentions that claim nothing, and verified professionals.

use chrono::{TimeZone, Utc};
use steward_model::Event;

use super::*;
use crate::testing::post_event;

/// Medical advice of the kind unqualified health accounts give.
const MEDICAL_ADVICE: &str = "降血压偏方：每天喝芹菜汁，一个月就能停药，大家一定要试试";

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 8, 0, 0).unwrap()
}

fn account(id: &str, name: &str, bio: &str) -> Account {
    Account {
        id: id.into(),
        handle: id.into(),
        display_name: name.into(),
        bio: bio.into(),
        avatar_hash: None,
        followers: 1000,
        verified: false,
        identity: None,
        ip_region: None,
        monetization: vec![],
    }
}

fn credential_event(account_id: &str, field: &str, title: &str) -> Event {
    let credential =
        Credential { account_id: account_id.into(), field: field.into(), title: title.into(), issuer: None };
    Event { id: format!("e-{account_id}-{field}"), at: at(), payload: Payload::CredentialVerified(credential) }
}

fn run(d: &mut Professionals, event: &Event, account: Option<&Account>) -> Option<Signal> {
    let mut out = Findings::default();
    d.inspect(&Context { event, account }, &mut out);
    assert!(out.signals.len() <= 1 && out.earlier.is_empty() && out.groups.is_empty());
    out.signals.pop()
}

/// The signal on a post by `author` (`a1` when there is no profile).
fn post(d: &mut Professionals, author: Option<&Account>, text: &str) -> Option<Signal> {
    let account_id = author.map_or("a1", |a| a.id.as_str());
    run(d, &post_event("p1", account_id, None, text, at()), author)
}

/// The signal on a new account.
fn upsert(d: &mut Professionals, before: Option<&Account>, account: Account) -> Option<Signal> {
    let event = Event { id: "e-acct".into(), at: at(), payload: Payload::AccountUpserted(account) };
    run(d, &event, before)
}

/// (field, title, where) of a signal.
type Summary<'a> = (&'a str, &'a str, &'a str);

fn summary(s: &Signal) -> Summary<'_> {
    let get = |k: &str| s.evidence[k].as_str().unwrap_or_default();
    (get("field"), get("title"), get("where"))
}

#[test]
fn a_title_in_the_name_with_advice_in_the_post_is_flagged() {
    let mut d = Professionals::default();
    let author = account("a1", "王医生谈健康", "");
    let s = post(&mut d, Some(&author), MEDICAL_ADVICE).expect("flagged");
    assert_eq!(summary(&s), ("medicine", "医生", "name"));
    assert_eq!(s.evidence["advice"], "偏方, 停药, 降血压, 一定要, 试试");
    assert_eq!((s.name.as_str(), s.detector.as_str(), s.score), (NAME, NAME, 1.0));
}

#[test]
fn a_title_in_the_bio_is_flagged_and_the_longest_title_wins() {
    let author = account("a1", "健康小站", "三甲医院副主任医师，从医二十年");
    assert_flagged(&[(Some(author), MEDICAL_ADVICE, ("medicine", "副主任医师", "bio"))]);
}

/// An author known by display name alone.
fn named(name: &str) -> Option<Account> {
    Some(account("a1", name, ""))
}

/// Posts by authors (or with no profile), and what they are flagged with.
fn assert_flagged(cases: &[(Option<Account>, &str, Summary)]) {
    let mut d = Professionals::default();
    for (author, text, expected) in cases {
        let signal = post(&mut d, author.as_ref(), text).unwrap_or_else(|| panic!("not flagged: {text}"));
        assert_eq!(summary(&signal), *expected, "{text}");
    }
}

#[test]
fn first_person_claims_in_a_post_are_flagged() {
    assert_flagged(&[
        (None, "作为一名执业律师，我建议大家遇到欠薪直接起诉，私信我免费咨询", ("law", "执业律师", "post")),
        (None, "我是资深理财规划师，这只基金稳赚不赔，赶紧加仓", ("finance", "理财规划师", "post")),
        (None, "身为注册营养师，我推荐这款代餐，一周减肥五斤", ("nutrition", "注册营养师", "post")),
    ]);
}

#[test]
fn english_claims_are_flagged() {
    assert_flagged(&[
        (
            named("Dr. Chen | nutrition"),
            "You should stop taking your blood pressure medication and try this remedy instead.",
            ("medicine", "dr", "name"),
        ),
        (
            None,
            "As a licensed financial advisor, I recommend putting your savings in this fund. DM me!",
            ("finance", "financial advisor", "post"),
        ),
        (
            None,
            "I'm a therapist: if your anxiety is bad, avoid crowds and message me for sessions.",
            ("psychology", "therapist", "post"),
        ),
    ]);
}

#[test]
fn traditional_full_width_and_zero_width_characters_do_not_hide_a_title() {
    assert_flagged(&[
        (named("張醫\u{200B}師"), MEDICAL_ADVICE, ("medicine", "医师", "name")),
        (None, "我是一名醫生，建議高血壓患者停藥，改吃這個偏方", ("medicine", "医生", "post")),
        // Full-width letters and an ideographic space.
        (
            named("Ｄｒ．\u{3000}Ｌｉ"),
            "Stop the medication, you should try my herbal cure.",
            ("medicine", "dr", "name"),
        ),
    ]);
}

#[test]
fn mentions_of_a_professional_claim_nothing() {
    let mut d = Professionals::default();
    for text in [
        "昨天去看医生，医生说要按时吃药，建议大家不要自己停药",
        "Ask your doctor before you stop any medication: you should never guess the dose.",
        "我是医生的家属，医生建议我们少吃盐，可以降血压",
        "我不是医生，但建议高血压患者别再乱吃偏方",
        "I am not a doctor, but you should take your medication.",
        "如果不舒服，可以咨询专业律师，看看能不能起诉",
        "Professionals such as a lawyer can tell you whether you should sue.",
        "As a doctor's wife, I'd say you should never skip a dose of your medication.",
    ] {
        assert_eq!(post(&mut d, None, text), None, "{text}");
    }
    for bio in ["有病请及时看医生", "本人非医生，仅分享个人经验", "Always ask your doctor."] {
        let author = account("a1", "健康小站", bio);
        assert_eq!(post(&mut d, Some(&author), MEDICAL_ADVICE), None, "{bio}");
    }
}

#[test]
fn claims_without_advice_in_their_field_are_not_flagged() {
    let mut d = Professionals::default();
    let doctor = account("a1", "王医生", "");
    assert_eq!(post(&mut d, Some(&doctor), "今天天气很好，去公园散步"), None);
    assert_eq!(post(&mut d, None, "我是医生，今天做了三台手术，累"), None, "a topic without advice");
    assert_eq!(post(&mut d, Some(&doctor), "建议大家周末多出去走走"), None, "advice without a topic");
    let lawyer = account("a1", "李律师说法", "");
    assert_eq!(post(&mut d, Some(&lawyer), MEDICAL_ADVICE), None, "advice in another field");
    assert_eq!(post(&mut d, None, "我是老师，建议家长多陪孩子写作业"), None, "老师 is an honorific");
}

#[test]
fn a_title_is_not_read_as_advice() {
    let mut d = Professionals::default();
    assert_eq!(upsert(&mut d, None, account("a1", "小林", "国家二级心理咨询师")), None);
    assert_eq!(upsert(&mut d, None, account("a2", "小周", "注册营养师 | 理财师")), None);
}

#[test]
fn verified_professionals_are_not_flagged_in_their_field() {
    let mut d = Professionals::default();
    run(&mut d, &credential_event("a1", "medicine", "主任医师"), None);
    let doctor = account("a1", "王医生谈健康", "");
    assert_eq!(post(&mut d, Some(&doctor), MEDICAL_ADVICE), None);
    assert_eq!(post(&mut d, Some(&doctor), "我是一名医生，建议高血压患者不要自行停药"), None);
    // Another account with the same name and post is not covered by a1's credential.
    let other = account("a2", "王医生谈健康", "");
    assert!(post(&mut d, Some(&other), MEDICAL_ADVICE).is_some());
}

#[test]
fn a_credential_in_another_field_does_not_clear_a_claim() {
    let mut d = Professionals::default();
    run(&mut d, &credential_event("a1", "law", "律师"), None);
    let lawyer = account("a1", "李律师", "");
    let legal = "遇到欠薪一定要保留证据，可以申请劳动仲裁";
    assert_eq!(post(&mut d, Some(&lawyer), legal), None, "verified in law");
    let s = post(&mut d, Some(&lawyer), &format!("我也是医生，{MEDICAL_ADVICE}")).expect("flagged");
    assert_eq!(summary(&s), ("medicine", "医生", "post"));
}

#[test]
fn credentials_are_learnt_from_stored_entities_and_read_from_titles() {
    let mut d = Professionals::default();
    // As the engine's restore does: the stored entity as an upsert event, no account.
    let stored =
        Event { id: "stored:credential/a1/medicine".into(), ..credential_event("a1", "Medicine", "主任医师") };
    run(&mut d, &stored, None);
    // A field steward does not know: its title tells.
    run(&mut d, &credential_event("a2", "healthcare", "執業藥師"), None);
    run(&mut d, &credential_event("a3", "astrology", "占星师"), None);
    assert_eq!(d.credentials().accounts(), 2);
    assert!(d.credentials().of("a1").contains(Field::Medicine));
    assert!(d.credentials().of("a2").contains(Field::Pharmacy));
    let doctor = account("a1", "王医生谈健康", "");
    assert_eq!(post(&mut d, Some(&doctor), MEDICAL_ADVICE), None);
}

#[test]
fn a_profile_is_checked_when_new_or_when_its_name_or_bio_changes() {
    let mut d = Professionals::default();
    let plain = account("a1", "小李", "分享生活");
    assert_eq!(upsert(&mut d, None, plain.clone()), None);
    let pitched = account("a1", "李律师", "离婚、合同纠纷、工伤赔偿，欢迎私信咨询");
    let s = upsert(&mut d, Some(&plain), pitched.clone()).expect("flagged at the change");
    assert_eq!(summary(&s), ("law", "律师", "name"));
    assert_eq!(s.evidence["advice"], "赔偿, 合同, 离婚, 工伤, 私信, 咨询");
    // A follower update or a new avatar changes nothing the detector reads.
    let followed = Account { followers: 5000, avatar_hash: Some("ff00".into()), ..pitched.clone() };
    assert_eq!(upsert(&mut d, Some(&pitched), followed), None);
    // A new account is checked at once; a verified one is not flagged.
    run(&mut d, &credential_event("a2", "law", "执业律师"), None);
    assert_eq!(upsert(&mut d, None, Account { id: "a2".into(), ..pitched }), None);
}

#[test]
fn the_title_and_text_of_a_post_are_both_read() {
    let mut d = Professionals::default();
    let event = post_event("p1", "a1", Some("作为一名中医师"), "告诉大家一个根治失眠的秘方，千万要收藏", at());
    let s = run(&mut d, &event, None).expect("flagged");
    assert_eq!(summary(&s), ("medicine", "中医师", "post"));
}
