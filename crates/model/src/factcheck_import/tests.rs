use super::*;

fn utc() -> FixedOffset {
    FixedOffset::east_opt(0).unwrap()
}

fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap()
}

#[test]
fn times_in_every_common_form() {
    let t = |s| parse_time(s, beijing()).map(|t| t.to_rfc3339());
    assert_eq!(t("2025-01-10 15:46:22").as_deref(), Some("2025-01-10T07:46:22+00:00"));
    assert_eq!(t("2025-01-10 15:46").as_deref(), Some("2025-01-10T07:46:00+00:00"));
    assert_eq!(t("2025-01-10").as_deref(), Some("2025-01-09T16:00:00+00:00"));
    assert_eq!(t("2025-01-10T15:46:22Z").as_deref(), Some("2025-01-10T15:46:22+00:00"));
    assert_eq!(t("1735689600").as_deref(), Some("2025-01-01T00:00:00+00:00"));
    assert_eq!(t("1735689600000").as_deref(), Some("2025-01-01T00:00:00+00:00"));
    assert_eq!(t("yesterday"), None);
    assert_eq!(t(""), None);
}

#[test]
fn rating_words_map_to_verdicts() {
    for (words, verdict) in [
        ("False", Verdict::False),
        ("Pants on Fire!", Verdict::False),
        ("Mostly False", Verdict::Misleading),
        ("Half True", Verdict::Misleading),
        ("Not true", Verdict::False),
        ("Unverified", Verdict::Unproven),
        ("Satire", Verdict::Opinion),
        ("Correct", Verdict::True),
        ("谣言", Verdict::False),
        ("误导", Verdict::Misleading),
        ("属实", Verdict::True),
        ("尚无定论", Verdict::Unproven),
    ] {
        assert_eq!(verdict_from_words(words), Some(verdict), "{words}");
    }
    assert_eq!(verdict_from_words("see article"), None);
}

#[test]
fn jsonl_keeps_the_good_lines_and_names_the_bad_ones() {
    let got = from_jsonl(include_str!("../../fixtures/import-sample.jsonl"), beijing());
    let ids: Vec<&str> = got.fact_checks.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["kb-1", "2", "kb-7"]);
    assert_eq!(got.fact_checks[0].published_at.unwrap().to_rfc3339(), "2025-01-10T07:46:22+00:00");
    assert_eq!(got.fact_checks[1].published_at, None);
    assert_eq!(got.fact_checks[1].verdict, Verdict::Misleading);
    assert_eq!(got.fact_checks[2].verdict, Verdict::False);
    let errors: Vec<String> = got.errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert!(errors[0].starts_with("line 4: unknown verdict \"maybe\""), "{errors:?}");
    assert!(errors[1].starts_with("line 5: the claim is empty"), "{errors:?}");
    assert!(errors[2].starts_with("line 6: unreadable published_at"), "{errors:?}");
    assert!(errors[3].starts_with("line 7: "), "{errors:?}");
}

#[test]
fn claim_review_nodes_are_read_from_a_graph() {
    let got = from_claim_review(include_str!("../../fixtures/claimreview.json"), beijing());
    let read: Vec<(&str, Verdict, &str)> =
        got.fact_checks.iter().map(|f| (f.id.as_str(), f.verdict, f.publisher.as_str())).collect();
    assert_eq!(
        read,
        [
            ("https://checks.example.org/review/101", Verdict::False, "Example Checks"),
            // ratingValue 2 on 1–5: a quarter of the scale, false.
            ("https://checks.example.org/review/102", Verdict::False, "示例辟谣"),
            ("https://checks.example.org/review/103", Verdict::Misleading, ""),
        ]
    );
    assert_eq!(got.fact_checks[0].language.as_deref(), Some("en"));
    assert_eq!(got.fact_checks[0].explanation, "Radio waves cannot carry a virus.");
    assert_eq!(got.fact_checks[1].published_at.unwrap().to_rfc3339(), "2025-04-03T02:00:00+00:00");
    assert_eq!(got.errors.len(), 1, "{:?}", got.errors);
    assert_eq!(got.errors[0].to_string(), "ClaimReview 4: no claimReviewed");
    assert_eq!(got.skipped, 1);
    assert!(from_claim_review("{\"@type\":\"WebPage\"}", utc()).errors[0].reason.contains("no node"));
    assert!(from_claim_review("[1, 2", utc()).errors[0].reason.starts_with("not JSON"));
}

#[test]
fn cofacts_pairs_become_fact_checks() {
    let got = from_cofacts(
        include_str!("../../fixtures/cofacts/articles.csv"),
        include_str!("../../fixtures/cofacts/replies.csv"),
        include_str!("../../fixtures/cofacts/article_replies.csv"),
        utc(),
    );
    let read: Vec<(&str, Verdict, Option<&str>)> =
        got.fact_checks.iter().map(|f| (f.id.as_str(), f.verdict, f.url.as_deref())).collect();
    assert_eq!(
        read,
        [
            ("cofacts-a-1-r-1", Verdict::False, Some("https://water.example.cn/notice/2025-03")),
            ("cofacts-a-2-r-2", Verdict::False, Some("https://health.example.org/onions")),
            ("cofacts-a-3-r-3", Verdict::True, None),
        ]
    );
    assert_eq!(got.fact_checks[0].claim, "【紧急通知】自来水厂检出致癌物，明天起全市停水三天，请马上囤水！");
    assert_eq!(got.fact_checks[0].explanation, "水务集团已说明水质检测合格，停水通知系伪造。");
    assert_eq!(got.fact_checks[0].publisher, "Cofacts");
    // NOT_ARTICLE and the deleted link are skipped; the missing article and reply are errors.
    assert_eq!(got.skipped, 2);
    let errors: Vec<String> = got.errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with("article_replies.csv line 7: article \"a-9\""), "{errors:?}");
    assert!(errors[1].starts_with("article_replies.csv line 8: reply \"r-8\""), "{errors:?}");
}

#[test]
fn a_cofacts_file_without_its_columns_is_named() {
    let got = from_cofacts("id,text\n1,x\n", "id\n", "articleId\n", utc());
    assert!(got.fact_checks.is_empty());
    let errors: Vec<String> = got.errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(errors[0], "articles.csv: no column \"articleType\"");
    assert_eq!(errors.len(), 3);
}
