//! What the EU DSA Transparency Database accepts, as facts: the values of each limited
//! field, which fields are required and when, date ranges, formats and lengths. Read from
//! its validation of `POST /api/v1/statement` and `POST /api/v1/statements` (one to
//! [`MAX_STATEMENTS_PER_CALL`] statements under `"statements"`) and its API documentation,
//! as of June 2026. [`check`] applies them to a statement as JSON.

use std::collections::HashSet;

use chrono::NaiveDate;
use serde_json::{Map, Value};

/// Most statements one call of the multiple-statements endpoint takes.
pub const MAX_STATEMENTS_PER_CALL: usize = 100;

pub const DECISION_VISIBILITIES: &[&str] = &[
    "DECISION_VISIBILITY_CONTENT_REMOVED",
    "DECISION_VISIBILITY_CONTENT_DISABLED",
    "DECISION_VISIBILITY_CONTENT_DEMOTED",
    "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
    "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED",
    "DECISION_VISIBILITY_CONTENT_LABELLED",
    "DECISION_VISIBILITY_OTHER",
];
pub const DECISION_MONETARIES: &[&str] =
    &["DECISION_MONETARY_SUSPENSION", "DECISION_MONETARY_TERMINATION", "DECISION_MONETARY_OTHER"];
pub const DECISION_PROVISIONS: &[&str] = &[
    "DECISION_PROVISION_PARTIAL_SUSPENSION",
    "DECISION_PROVISION_TOTAL_SUSPENSION",
    "DECISION_PROVISION_PARTIAL_TERMINATION",
    "DECISION_PROVISION_TOTAL_TERMINATION",
];
pub const DECISION_ACCOUNTS: &[&str] = &["DECISION_ACCOUNT_SUSPENDED", "DECISION_ACCOUNT_TERMINATED"];
pub const ACCOUNT_TYPES: &[&str] = &["ACCOUNT_TYPE_BUSINESS", "ACCOUNT_TYPE_PRIVATE"];
pub const DECISION_GROUNDS: &[&str] = &["DECISION_GROUND_ILLEGAL_CONTENT", "DECISION_GROUND_INCOMPATIBLE_CONTENT"];
pub const CONTENT_TYPES: &[&str] = &[
    "CONTENT_TYPE_APP",
    "CONTENT_TYPE_AUDIO",
    "CONTENT_TYPE_IMAGE",
    "CONTENT_TYPE_PRODUCT",
    "CONTENT_TYPE_SYNTHETIC_MEDIA",
    "CONTENT_TYPE_TEXT",
    "CONTENT_TYPE_VIDEO",
    "CONTENT_TYPE_OTHER",
];
pub const CATEGORIES: &[&str] = &[
    "STATEMENT_CATEGORY_ANIMAL_WELFARE",
    "STATEMENT_CATEGORY_CONSUMER_INFORMATION",
    "STATEMENT_CATEGORY_CYBER_VIOLENCE",
    "STATEMENT_CATEGORY_CYBER_VIOLENCE_AGAINST_WOMEN",
    "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
    "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
    "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
    "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS",
    "STATEMENT_CATEGORY_NOT_SPECIFIED_NOTICE",
    "STATEMENT_CATEGORY_OTHER_VIOLATION_TC",
    "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
    "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
    "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
    "STATEMENT_CATEGORY_SELF_HARM",
    "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS",
    "STATEMENT_CATEGORY_VIOLENCE",
];
/// Values of `category_specification`.
pub const KEYWORDS: &[&str] = &[
    "KEYWORD_ADULT_SEXUAL_MATERIAL",
    "KEYWORD_AGE_SPECIFIC_RESTRICTIONS",
    "KEYWORD_AGE_SPECIFIC_RESTRICTIONS_MINORS",
    "KEYWORD_ANIMAL_HARM",
    "KEYWORD_BIOMETRIC_DATA_BREACH",
    "KEYWORD_BULLYING_AGAINST_GIRLS",
    "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL",
    "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL_DEEPFAKE",
    "KEYWORD_CONTENT_PROMOTING_EATING_DISORDERS",
    "KEYWORD_COORDINATED_HARM",
    "KEYWORD_COPYRIGHT_INFRINGEMENT",
    "KEYWORD_CYBER_BULLYING_INTIMIDATION",
    "KEYWORD_CYBER_HARASSMENT",
    "KEYWORD_CYBER_HARASSMENT_AGAINST_WOMEN",
    "KEYWORD_CYBER_INCITEMENT",
    "KEYWORD_CYBER_STALKING",
    "KEYWORD_CYBER_STALKING_AGAINST_WOMEN",
    "KEYWORD_DATA_FALSIFICATION",
    "KEYWORD_DEFAMATION",
    "KEYWORD_DESIGN_INFRINGEMENT",
    "KEYWORD_DISCRIMINATION",
    "KEYWORD_FEMALE_GENDERED_DISINFORMATION",
    "KEYWORD_GEOGRAPHIC_INDICATIONS_INFRINGEMENT",
    "KEYWORD_GEOGRAPHICAL_REQUIREMENTS",
    "KEYWORD_GOODS_SERVICES_NOT_PERMITTED",
    "KEYWORD_GROOMING_SEXUAL_ENTICEMENT_MINORS",
    "KEYWORD_HATE_SPEECH",
    "KEYWORD_HIDDEN_ADVERTISEMENT",
    "KEYWORD_HUMAN_EXPLOITATION",
    "KEYWORD_HUMAN_TRAFFICKING",
    "KEYWORD_ILLEGAL_ORGANIZATIONS",
    "KEYWORD_IMPERSONATION_ACCOUNT_HIJACKING",
    "KEYWORD_INAUTHENTIC_ACCOUNTS",
    "KEYWORD_INAUTHENTIC_LISTINGS",
    "KEYWORD_INAUTHENTIC_USER_REVIEWS",
    "KEYWORD_INCITEMENT_AGAINST_WOMEN",
    "KEYWORD_INCITEMENT_VIOLENCE_HATRED",
    "KEYWORD_INSUFFICIENT_INFORMATION_ON_TRADERS",
    "KEYWORD_LANGUAGE_REQUIREMENTS",
    "KEYWORD_MISINFORMATION_DISINFORMATION",
    "KEYWORD_MISLEADING_INFO_CONSUMER_RIGHTS",
    "KEYWORD_MISLEADING_INFO_GOODS_SERVICES",
    "KEYWORD_MISSING_PROCESSING_GROUND",
    "KEYWORD_NON_CONSENSUAL_IMAGE_SHARING",
    "KEYWORD_NON_CONSENSUAL_IMAGE_SHARING_AGAINST_WOMEN",
    "KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE",
    "KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE_AGAINST_WOMEN",
    "KEYWORD_NONCOMPLIANCE_PRICING",
    "KEYWORD_NUDITY",
    "KEYWORD_PATENT_INFRINGEMENT",
    "KEYWORD_PHISHING",
    "KEYWORD_PROHIBITED_PRODUCTS",
    "KEYWORD_PYRAMID_SCHEMES",
    "KEYWORD_RIGHT_TO_BE_FORGOTTEN",
    "KEYWORD_RISK_ENVIRONMENTAL_DAMAGE",
    "KEYWORD_RISK_PUBLIC_HEALTH",
    "KEYWORD_SELF_MUTILATION",
    "KEYWORD_STALKING",
    "KEYWORD_SUICIDE",
    "KEYWORD_TERRORIST_CONTENT",
    "KEYWORD_TRADE_SECRET_INFRINGEMENT",
    "KEYWORD_TRADEMARK_INFRINGEMENT",
    "KEYWORD_TRAFFICKING_WOMEN_GIRLS",
    "KEYWORD_UNLAWFUL_SALE_ANIMALS",
    "KEYWORD_UNSAFE_CHALLENGES",
    "KEYWORD_UNSAFE_PRODUCTS",
    "KEYWORD_VIOLATION_EU_LAW",
    "KEYWORD_VIOLATION_NATIONAL_LAW",
    "KEYWORD_OTHER",
];
pub const SOURCE_TYPES: &[&str] =
    &["SOURCE_ARTICLE_16", "SOURCE_TRUSTED_FLAGGER", "SOURCE_TYPE_OTHER_NOTIFICATION", "SOURCE_VOLUNTARY"];
pub const AUTOMATED_DETECTIONS: &[&str] = &["Yes", "No"];
pub const AUTOMATED_DECISIONS: &[&str] =
    &["AUTOMATED_DECISION_FULLY", "AUTOMATED_DECISION_PARTIALLY", "AUTOMATED_DECISION_NOT_AUTOMATED"];
pub const INCOMPATIBLE_CONTENT_ILLEGALS: &[&str] = &["Yes", "No"];
/// `territorial_scope`: the EU and EEA countries, by ISO 3166-1 alpha-2 code (Greece as GR).
pub const EEA_COUNTRIES: &[&str] = &[
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IS", "IT", "LI", "LT",
    "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK",
];

/// The end-date field of each kind of restriction.
pub const END_DATES: &[(&str, &str)] = &[
    ("decision_visibility", "end_date_visibility_restriction"),
    ("decision_monetary", "end_date_monetary_restriction"),
    ("decision_provision", "end_date_service_restriction"),
    ("decision_account", "end_date_account_restriction"),
];

/// The latest date any date field may hold.
const LAST_DATE: &str = "2038-01-01";

/// Every field a statement may carry.
const FIELDS: &[&str] = &[
    "decision_visibility",
    "decision_visibility_other",
    "decision_monetary",
    "decision_monetary_other",
    "decision_provision",
    "decision_account",
    "account_type",
    "decision_ground",
    "decision_ground_reference_url",
    "illegal_content_legal_ground",
    "illegal_content_explanation",
    "incompatible_content_ground",
    "incompatible_content_explanation",
    "incompatible_content_illegal",
    "content_type",
    "content_type_other",
    "category",
    "category_addition",
    "category_specification",
    "category_specification_other",
    "territorial_scope",
    "content_language",
    "content_date",
    "application_date",
    "end_date_visibility_restriction",
    "end_date_monetary_restriction",
    "end_date_service_restriction",
    "end_date_account_restriction",
    "decision_facts",
    "source_type",
    "source_identity",
    "automated_detection",
    "automated_decision",
    "puid",
    "content_id",
    "content_id_ean",
];

/// Every rule the statement breaks, one message each, naming the field; empty when the
/// Database would take it.
pub fn check(statement: &Value) -> Vec<String> {
    let Some(s) = statement.as_object() else {
        return vec!["a statement must be a JSON object".to_string()];
    };
    let mut c = Checker { s, errors: Vec::new() };
    for key in s.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
        c.fail(key, "not a field of a statement".into());
    }

    let restrictions = ["decision_visibility", "decision_monetary", "decision_provision", "decision_account"];
    if restrictions.iter().all(|f| !present(s, f)) {
        c.fail(
            "decision_visibility",
            "one of decision_visibility, decision_monetary, decision_provision or decision_account is required".into(),
        );
    }
    let visibility = c.one_of_each("decision_visibility", DECISION_VISIBILITIES, false);
    for (field, allowed) in [
        ("decision_monetary", DECISION_MONETARIES),
        ("decision_provision", DECISION_PROVISIONS),
        ("decision_account", DECISION_ACCOUNTS),
        ("account_type", ACCOUNT_TYPES),
    ] {
        c.one_of(field, allowed, false);
    }
    let monetary = s.get("decision_monetary").and_then(Value::as_str);
    c.other_field("decision_visibility_other", visibility.contains(&"DECISION_VISIBILITY_OTHER"));
    c.other_field("decision_monetary_other", monetary == Some("DECISION_MONETARY_OTHER"));

    let ground = c.one_of("decision_ground", DECISION_GROUNDS, true);
    let illegal = ground == Some("DECISION_GROUND_ILLEGAL_CONTENT");
    let incompatible = ground == Some("DECISION_GROUND_INCOMPATIBLE_CONTENT");
    for (field, max, required) in [
        ("illegal_content_legal_ground", 500, illegal),
        ("illegal_content_explanation", 2000, illegal),
        ("incompatible_content_ground", 500, incompatible),
        ("incompatible_content_explanation", 2000, incompatible),
    ] {
        c.conditional_text(field, max, required);
    }
    if c.one_of("incompatible_content_illegal", INCOMPATIBLE_CONTENT_ILLEGALS, false).is_some() && !incompatible {
        c.fail("incompatible_content_illegal", "only with DECISION_GROUND_INCOMPATIBLE_CONTENT".into());
    }
    c.text("decision_ground_reference_url", 500, false);
    if let Some(url) = s.get("decision_ground_reference_url").and_then(Value::as_str)
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        c.fail("decision_ground_reference_url", format!("{url:?} is not a URL"));
    }

    let content = c.one_of_each("content_type", CONTENT_TYPES, true);
    c.other_field("content_type_other", content.contains(&"CONTENT_TYPE_OTHER"));
    c.one_of("category", CATEGORIES, true);
    c.one_of_each("category_addition", CATEGORIES, false);
    let keywords = c.one_of_each("category_specification", KEYWORDS, false);
    c.other_field("category_specification_other", keywords.contains(&"KEYWORD_OTHER"));
    c.one_of_each("territorial_scope", EEA_COUNTRIES, false);
    if let Some(lang) = s.get("content_language").filter(|v| !v.is_null()) {
        let ok = lang.as_str().is_some_and(|l| l.len() == 2 && l.bytes().all(|b| b.is_ascii_uppercase()));
        if !ok {
            c.fail("content_language", format!("{lang} is not an upper-case ISO 639-1 code"));
        }
    }

    c.date("content_date", "2000-01-01", true);
    let applied = c.date("application_date", "2020-01-01", true);
    for (decision, end) in END_DATES {
        if let Some(end_date) = c.date(end, "0001-01-01", false) {
            if !present(s, decision) {
                c.fail(end, format!("an end date without {decision}"));
            }
            if let Some(applied) = applied
                && end_date < applied
            {
                c.fail(end, format!("{end_date} is before the application date {applied}"));
            }
        }
    }

    c.text("decision_facts", 5000, true);
    let source = c.one_of("source_type", SOURCE_TYPES, true);
    c.text("source_identity", 500, false);
    if source == Some("SOURCE_VOLUNTARY") && present(s, "source_identity") {
        c.fail("source_identity", "not taken with SOURCE_VOLUNTARY".into());
    }
    c.one_of("automated_detection", AUTOMATED_DETECTIONS, true);
    c.one_of("automated_decision", AUTOMATED_DECISIONS, true);
    if let Some(puid) = c.text("puid", 500, true)
        && !puid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        c.fail("puid", format!("{puid:?} has characters other than a-z, A-Z, 0-9, - and _"));
    }
    let ean = |v: Option<&Value>| {
        v.and_then(Value::as_str).is_some_and(|e| e.len() == 13 && e.bytes().all(|b| b.is_ascii_digit()))
    };
    if present(s, "content_id_ean") && !ean(s.get("content_id_ean")) {
        c.fail("content_id_ean", "not 13 digits".into());
    }
    if let Some(id) = s.get("content_id").filter(|v| !v.is_null()) {
        match id.as_object() {
            Some(o) if o.keys().all(|k| k == "EAN-13") && (o.is_empty() || ean(o.get("EAN-13"))) => {}
            _ => c.fail("content_id", "only {\"EAN-13\": 13 digits} is taken".into()),
        }
    }
    c.errors
}

/// Every rule a call of the multiple-statements endpoint breaks: `{"statements": [...]}`
/// with 1 to [`MAX_STATEMENTS_PER_CALL`] statements, each valid, no PUID twice.
pub fn check_call(body: &Value) -> Vec<String> {
    let Some(statements) = body.get("statements").and_then(Value::as_array) else {
        return vec!["statements: an array is required".to_string()];
    };
    let mut errors = Vec::new();
    if body.as_object().is_some_and(|o| o.len() != 1) {
        errors.push("the body holds other fields than statements".to_string());
    }
    if statements.is_empty() || statements.len() > MAX_STATEMENTS_PER_CALL {
        errors.push(format!("statements: {} statements, not 1 to {MAX_STATEMENTS_PER_CALL}", statements.len()));
    }
    let mut puids = HashSet::new();
    for (i, s) in statements.iter().enumerate() {
        errors.extend(check(s).into_iter().map(|e| format!("statement {i}: {e}")));
        if let Some(puid) = s.get("puid").and_then(Value::as_str)
            && !puids.insert(puid)
        {
            errors.push(format!("statement {i}: puid {puid:?} is used twice"));
        }
    }
    errors
}

fn present(s: &Map<String, Value>, field: &str) -> bool {
    match s.get(field) {
        None | Some(Value::Null) => false,
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::String(t)) => !t.trim().is_empty(),
        Some(_) => true,
    }
}

/// The statement being checked and the rules it breaks.
struct Checker<'a> {
    s: &'a Map<String, Value>,
    errors: Vec<String>,
}

impl<'a> Checker<'a> {
    fn fail(&mut self, field: &str, why: String) {
        self.errors.push(format!("{field}: {why}"));
    }

    /// A string field: present when `required`, at most `max` characters.
    fn text(&mut self, field: &str, max: usize, required: bool) -> Option<&'a str> {
        match self.s.get(field) {
            None | Some(Value::Null) if required => self.fail(field, "required".into()),
            None | Some(Value::Null) => {}
            Some(Value::String(t)) if required && t.trim().is_empty() => self.fail(field, "required, and empty".into()),
            Some(Value::String(t)) if t.chars().count() > max => {
                self.fail(field, format!("{} characters, more than {max}", t.chars().count()))
            }
            Some(Value::String(t)) => return Some(t),
            Some(other) => self.fail(field, format!("{other} is not a string")),
        }
        None
    }

    /// A field required when `required` and left out otherwise.
    fn conditional_text(&mut self, field: &str, max: usize, required: bool) {
        if required {
            self.text(field, max, true);
        } else if present(self.s, field) {
            self.fail(field, "given where the Database leaves it out".into());
        }
    }

    /// The `_other` specification: required (at most 500 characters) exactly when the
    /// field it specifies says other.
    fn other_field(&mut self, field: &str, required: bool) {
        self.conditional_text(field, 500, required);
    }

    fn one_of(&mut self, field: &str, allowed: &[&str], required: bool) -> Option<&'a str> {
        match self.s.get(field) {
            None | Some(Value::Null) if required => self.fail(field, "required".into()),
            None | Some(Value::Null) => {}
            Some(Value::String(v)) if allowed.contains(&v.as_str()) => return Some(v),
            Some(v) => self.fail(field, format!("{v} is not one of the allowed values")),
        }
        None
    }

    /// An array field whose every element is allowed, none twice; at least one when
    /// `required`.
    fn one_of_each(&mut self, field: &str, allowed: &[&str], required: bool) -> Vec<&'a str> {
        let items: &[Value] = match self.s.get(field) {
            None | Some(Value::Null) => &[],
            Some(Value::Array(items)) => items,
            Some(v) => {
                self.fail(field, format!("{v} is not an array"));
                return Vec::new();
            }
        };
        if required && items.is_empty() {
            self.fail(field, "required: at least one value".into());
        }
        let mut out = Vec::new();
        for v in items {
            match v.as_str().filter(|v| allowed.contains(v)) {
                Some(v) if out.contains(&v) => self.fail(field, format!("{v} twice")),
                Some(v) => out.push(v),
                None => self.fail(field, format!("{v} is not one of the allowed values")),
            }
        }
        out
    }

    /// A `YYYY-MM-DD` date from `first` to 2038-01-01.
    fn date(&mut self, field: &str, first: &str, required: bool) -> Option<NaiveDate> {
        let text = self.text(field, 10, required)?;
        let parse =
            |t: &str| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok().filter(|d| d.format("%Y-%m-%d").to_string() == t);
        let Some(d) = parse(text) else {
            self.fail(field, format!("{text:?} is not a date written YYYY-MM-DD"));
            return None;
        };
        let (first, last) = (parse(first)?, parse(LAST_DATE)?);
        if d < first || d > last {
            self.fail(field, format!("{text} is not between {first} and {last}"));
        }
        Some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> Value {
        json!({
            "puid": "rule_40event-1",
            "decision_visibility": ["DECISION_VISIBILITY_CONTENT_LABELLED", "DECISION_VISIBILITY_OTHER"],
            "decision_visibility_other": "identity shown",
            "end_date_visibility_restriction": "2026-12-01",
            "decision_account": "DECISION_ACCOUNT_SUSPENDED",
            "end_date_account_restriction": "2026-12-22",
            "decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
            "incompatible_content_ground": "terms, section 3",
            "incompatible_content_explanation": "why",
            "category": "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
            "category_specification": ["KEYWORD_IMPERSONATION_ACCOUNT_HIJACKING"],
            "content_type": ["CONTENT_TYPE_TEXT", "CONTENT_TYPE_OTHER"],
            "content_type_other": "account",
            "content_date": "2026-11-20",
            "application_date": "2026-11-22",
            "territorial_scope": ["DE", "FR"],
            "decision_facts": "facts",
            "source_type": "SOURCE_VOLUNTARY",
            "automated_detection": "Yes",
            "automated_decision": "AUTOMATED_DECISION_FULLY",
        })
    }

    #[test]
    fn every_rule_is_caught_and_names_its_field() {
        assert_eq!(check(&valid()), Vec::<String>::new());
        let long = |n: usize| Value::String("x".repeat(n));
        let cases: Vec<(&str, Value, &str)> = vec![
            ("puid", json!("a b"), "puid: "),
            ("puid", long(501), "puid: 501 characters"),
            ("decision_visibility", json!(["DECISION_VISIBILITY_HIDDEN"]), "decision_visibility: "),
            ("decision_visibility", json!("DECISION_VISIBILITY_CONTENT_LABELLED"), "is not an array"),
            ("decision_visibility_other", Value::Null, "decision_visibility_other: required"),
            ("decision_visibility_other", long(501), "decision_visibility_other: 501"),
            ("decision_account", json!("DECISION_ACCOUNT_BANNED"), "decision_account: "),
            ("decision_monetary", json!("DECISION_MONETARY_OTHER"), "decision_monetary_other: required"),
            ("decision_provision", json!("total"), "decision_provision: "),
            ("end_date_visibility_restriction", json!("2026-12-1"), "not a date written YYYY-MM-DD"),
            ("end_date_visibility_restriction", json!("2026-02-30"), "not a date written YYYY-MM-DD"),
            (
                "end_date_account_restriction",
                json!("2038-01-02"),
                "end_date_account_restriction: 2038-01-02 is not between",
            ),
            ("end_date_account_restriction", json!("2026-11-21"), "before the application date"),
            ("end_date_monetary_restriction", json!("2026-12-01"), "an end date without decision_monetary"),
            ("decision_ground", json!("DECISION_GROUND_ILLEGAL_CONTENT"), "illegal_content_legal_ground: required"),
            ("decision_ground", Value::Null, "decision_ground: required"),
            ("incompatible_content_ground", Value::Null, "incompatible_content_ground: required"),
            ("incompatible_content_ground", long(501), "incompatible_content_ground: 501"),
            ("incompatible_content_explanation", long(2001), "incompatible_content_explanation: 2001"),
            ("incompatible_content_illegal", json!("Maybe"), "incompatible_content_illegal: "),
            ("illegal_content_explanation", json!("x"), "illegal_content_explanation: given where"),
            ("category", json!("STATEMENT_CATEGORY_RUMOUR"), "category: "),
            ("category", Value::Null, "category: required"),
            ("category_specification", json!(["KEYWORD_RUMOUR"]), "category_specification: "),
            ("category_addition", json!(["STATEMENT_CATEGORY_VIOLENCE", 3]), "category_addition: 3"),
            ("content_type", json!([]), "content_type: required"),
            ("content_type", json!(["CONTENT_TYPE_TEXT", "CONTENT_TYPE_TEXT"]), "CONTENT_TYPE_TEXT twice"),
            ("content_type_other", Value::Null, "content_type_other: required"),
            ("content_date", json!("1999-12-31"), "content_date: 1999-12-31 is not between"),
            ("content_date", Value::Null, "content_date: required"),
            ("application_date", json!("2019-12-31"), "application_date: 2019-12-31 is not between"),
            ("application_date", json!("22/11/2026"), "application_date: "),
            ("territorial_scope", json!(["CN"]), "territorial_scope: "),
            ("content_language", json!("zh"), "content_language: "),
            ("decision_facts", json!("  "), "decision_facts: required"),
            ("decision_facts", long(5001), "decision_facts: 5001"),
            ("source_type", json!("SOURCE_USER"), "source_type: "),
            ("source_identity", json!("a reporter"), "source_identity: not taken with SOURCE_VOLUNTARY"),
            ("automated_detection", json!(true), "automated_detection: "),
            ("automated_decision", json!("Fully automated"), "automated_decision: "),
            ("account_type", json!("ACCOUNT_TYPE_GOVERNMENT"), "account_type: "),
            ("decision_ground_reference_url", json!("terms"), "is not a URL"),
            ("content_id", json!({"ISBN": "1"}), "content_id: "),
            ("platform_name", json!("x"), "platform_name: not a field"),
        ];
        for (field, value, expected) in cases {
            let mut s = valid();
            s[field] = value.clone();
            let errors = check(&s);
            assert!(errors.iter().any(|e| e.contains(expected)), "{field} = {value}: {errors:?}");
        }
        // Without any restriction.
        let mut s = valid();
        for f in ["decision_visibility", "decision_visibility_other", "end_date_visibility_restriction"] {
            s.as_object_mut().unwrap().remove(f);
        }
        s["decision_account"] = Value::Null;
        s.as_object_mut().unwrap().remove("end_date_account_restriction");
        assert!(check(&s).iter().any(|e| e.contains("one of decision_visibility")), "{:?}", check(&s));
    }

    #[test]
    fn a_call_holds_one_to_a_hundred_statements_with_distinct_puids() {
        assert!(check_call(&json!({"statements": vec![valid(); 100]})).iter().any(|e| e.contains("used twice")));
        let numbered = |n: usize| -> Vec<Value> {
            (0..n)
                .map(|i| {
                    let mut s = valid();
                    s["puid"] = json!(format!("p{i}"));
                    s
                })
                .collect()
        };
        assert_eq!(check_call(&json!({"statements": numbered(100)})), Vec::<String>::new());
        assert!(check_call(&json!({"statements": numbered(101)}))[0].contains("101 statements"));
        assert!(check_call(&json!({"statements": []}))[0].contains("0 statements"));
        assert!(!check_call(&json!([valid()])).is_empty());
    }
}
