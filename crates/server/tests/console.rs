//! The moderator console in a real browser (headless chromium over WebDriver), and its
//! sessions and CSRF checks over plain HTTP.

#[path = "common/browser.rs"]
mod browser;
mod common;

use browser::{Browser, CONTROL, ENTER};
use common::{Server, ai_post, start_ai_review as server};
use reqwest::StatusCode;
use reqwest::blocking::Client;
use reqwest::redirect::Policy as Redirects;
use serde_json::{Value, json};
use steward_model::Role;

fn ingest(s: &Server, events: Value) {
    let (status, answer) = s.post(Role::Ingest, "application/json", events.to_string());
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// Signs in on the sign-in page with the keyboard alone: the key field has the focus.
fn sign_in(b: &Browser, s: &Server, key: &str) {
    b.goto(&format!("{}/console", s.base));
    assert!(b.url().ends_with("/console/signin"), "{}", b.url());
    assert_eq!(b.unlabelled_fields(), Vec::<String>::new());
    b.screenshot(&browser::shots_dir().join("signin.png"));
    b.keys(key);
    b.keys(ENTER);
    b.wait_for("/console/queues");
}

/// Credit and number of restrictions in force, as the account's page shows them.
fn standing(b: &Browser, s: &Server, account: &str) -> (i64, usize) {
    b.goto(&format!("{}/console/accounts/{account}", s.base));
    let credit = b.find("dd[data-credit]").attr("data-credit").unwrap().parse().unwrap();
    let restrictions = b.find("dd[data-restrictions]").attr("data-restrictions").unwrap().parse().unwrap();
    (credit, restrictions)
}

#[test]
fn a_moderator_signs_in_claims_a_case_and_overturns_it_with_the_keyboard() {
    let Some(driver) = browser::driver() else { return };
    let s = server();
    ingest(&s, json!([ai_post("e1", "acct-1")]));
    let b = driver.browser();
    sign_in(&b, &s, &s.keys[&Role::Moderator]);
    let shots = browser::shots_dir();
    b.screenshot(&shots.join("queues.png"));
    assert_eq!(b.find("tr[data-queue=ai] td.num").text(), "1", "one open case in queue ai");

    let before = standing(&b, &s, "acct-1");
    assert_eq!(before, (99, 1), "a credit point taken and posting restricted");
    b.screenshot(&shots.join("account-before.png"));

    // `n` takes the next case of the first queue with one waiting.
    b.goto(&format!("{}/console/queues", s.base));
    b.keys("n");
    let case_url = b.wait_for("/console/cases/");
    assert_eq!(b.find("[data-state]").text(), "assigned");
    assert!(b.find(".signal").text().contains("unlabelled_ai"), "{}", b.text(".signal"));
    assert_eq!(b.unlabelled_fields(), Vec::<String>::new());
    b.screenshot(&shots.join("case-claimed.png"));

    // `o` chooses overturn and puts the cursor in the reason; Ctrl+Enter submits and moves
    // on to the next case (there is none, so back to the queues).
    b.keys("o");
    assert_eq!(b.eval("return document.activeElement.id"), json!("reason"));
    b.keys("The video carries the platform's AI label; the detector missed it.");
    b.chord(CONTROL, ENTER);
    b.wait_for("/console/queues");

    // The standing shows it at once.
    assert_eq!(standing(&b, &s, "acct-1"), (100, 0));
    b.screenshot(&shots.join("account-after.png"));
    b.goto(&case_url);
    assert_eq!(b.find("[data-outcome]").text(), "overturned");
    assert!(b.find(".reversed").text().contains("the detector missed it"));
    b.screenshot(&shots.join("case-overturned.png"));

    // Every page: a skip link first, and every form field labelled.
    for page in [
        "/console/queues",
        "/console/cases?state=resolved",
        "/console/appeals",
        "/console/policy",
        "/console/accounts/acct-1",
        &case_url,
    ] {
        let url = if page.starts_with("http") { page.to_string() } else { format!("{}{page}", s.base) };
        b.goto(&url);
        assert_eq!(b.unlabelled_fields(), Vec::<String>::new(), "{page}");
        b.keys(browser::TAB);
        assert_eq!(b.eval("return document.activeElement.className"), json!("skip"), "{page}");
    }
}

#[test]
fn an_appeal_is_decided_by_a_second_moderator_in_the_browser() {
    let Some(driver) = browser::driver() else { return };
    let s = server();
    ingest(&s, json!([ai_post("e2", "acct-2")]));
    let first = driver.browser();
    sign_in(&first, &s, &s.keys[&Role::Moderator]);
    first.keys("n");
    first.wait_for("/console/cases/");
    first.keys("u");
    first.keys("An unlabelled AI video: the decision stands.");
    first.find("#act button[type=submit]:not([name])").click();
    first.wait_for("/console/cases/");
    assert_eq!(first.find("[data-outcome]").text(), "upheld");

    // The account appeals, through the platform (an ingest key).
    let (_, decisions) = s.get(Some(Role::Moderator), "/v1/decisions?subject=acct-2");
    let decision = decisions["decisions"][0]["id"].as_str().unwrap().to_string();
    let appeal =
        json!({ "decision_id": decision, "account_id": "acct-2", "text": "I added the AI label before posting." });
    let (status, filed) = s.send(Role::Ingest, "/v1/appeals", "application/json", appeal.to_string());
    assert_eq!(status, StatusCode::CREATED, "{filed}");

    // The first moderator upheld the decision: the appeals page says it is not theirs to
    // decide, and the queue gives them nothing.
    first.goto(&format!("{}/console/appeals", s.base));
    assert!(first.find("table.appeals").text().contains("I added the AI label"));
    assert!(first.find("table.appeals").text().contains("not you"));
    first.screenshot(&browser::shots_dir().join("appeals.png"));
    first.find("form[action$='/appeals/next'] button").click();
    first.wait_for("/appeals/next");
    assert!(first.text("main").contains("no case waits"), "{}", first.text("main"));

    let second = driver.browser();
    sign_in(&second, &s, &s.moderator2);
    second.goto(&format!("{}/console/appeals", s.base));
    second.find("form[action$='/appeals/next'] button").click();
    second.wait_for("/console/cases/");
    assert_eq!(second.find("[data-appeal-state]").attr("data-appeal-state").as_deref(), Some("pending"));
    second.keys("o");
    second.keys("The label is on the video from its first second.");
    second.find("#act button[type=submit]:not([name])").click();
    second.wait_for("/console/cases/");
    assert_eq!(second.find("[data-outcome]").text(), "overturned");
    assert_eq!(second.find("[data-appeal-state]").attr("data-appeal-state").as_deref(), Some("overturned"));
    second.screenshot(&browser::shots_dir().join("appeal-decided.png"));
    let (_, appeal) = s.get(Some(Role::Auditor), &format!("/v1/appeals/{}", filed["id"].as_str().unwrap()));
    assert_eq!(appeal["state"], "overturned");
    assert_ne!(appeal["decided_by"], json!(null));
}

/// A client that keeps redirects for the test to read.
fn plain() -> Client {
    Client::builder().redirect(Redirects::none()).build().unwrap()
}

fn session_cookie(s: &Server, key: &str) -> String {
    let r = plain().post(format!("{}/console/signin", s.base)).form(&[("key", key)]).send().unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    cookie.split(';').next().unwrap().to_string()
}

#[test]
fn sessions_need_a_reading_key_and_changes_need_the_csrf_token() {
    let s = server();
    ingest(&s, json!([ai_post("e3", "acct-3")]));
    let c = plain();
    // No session: to the sign-in page. A wrong key, an ingest key or a revoked one: refused.
    let r = c.get(format!("{}/console/queues", s.base)).send().unwrap();
    assert_eq!((r.status(), r.headers()["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/console/signin"));
    for (key, why) in [
        ("stw_nope", "unknown API key"),
        (s.keys[&Role::Ingest].as_str(), "cannot use the console"),
        (s.revoked.as_str(), "was revoked"),
    ] {
        let r = c.post(format!("{}/console/signin", s.base)).form(&[("key", key)]).send().unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.text().unwrap().contains(why), "{why}");
    }

    let cookie = session_cookie(&s, &s.keys[&Role::Moderator]);
    let page = c.get(format!("{}/console/queues", s.base)).header("cookie", &cookie).send().unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    let html = page.text().unwrap();
    let csrf = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();

    // A change without the token, with another's, or from another site is refused.
    let next = format!("{}/console/queues/ai/next", s.base);
    for (form, origin) in [
        (vec![], None),
        (vec![("csrf", "0".repeat(64))], None),
        (vec![("csrf", csrf.clone())], Some("http://evil.example")),
    ] {
        let mut req = c.post(&next).header("cookie", &cookie).form(&form);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        assert_eq!(req.send().unwrap().status(), StatusCode::FORBIDDEN);
    }
    let r = c.post(&next).header("cookie", &cookie).form(&[("csrf", &csrf)]).send().unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "with the token, the case is claimed");
    assert!(r.headers()["location"].to_str().unwrap().starts_with("/console/cases/"));

    // An auditor reads but may not claim.
    let auditor = session_cookie(&s, &s.keys[&Role::Auditor]);
    let html = c.get(format!("{}/console/queues", s.base)).header("cookie", &auditor).send().unwrap().text().unwrap();
    let token = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let r = c.post(&next).header("cookie", &auditor).form(&[("csrf", &token)]).send().unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Signing out ends the session on the server, whatever the browser keeps.
    let r = c
        .post(format!("{}/console/signout", s.base))
        .header("cookie", &cookie)
        .form(&[("csrf", &csrf)])
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    let r = c.get(format!("{}/console/queues", s.base)).header("cookie", &cookie).send().unwrap();
    assert!(r.headers()["location"].to_str().unwrap().starts_with("/console/signin"));
}

#[test]
fn the_transparency_report_draws_its_charts_with_their_bars() {
    let Some(driver) = browser::driver() else { return };
    let s = server();
    ingest(&s, json!([ai_post("e4", "acct-4"), ai_post("e5", "acct-5"), ai_post("e6", "acct-6")]));
    // A moderator overturns one, so the report has a person's decision to count.
    let moderator = &s.keys[&Role::Moderator];
    let (_, case) = s.send_with(moderator, "/v1/queues/ai/next", "application/json", "");
    let overturn = json!({ "version": case["version"], "action": { "type": "overturn", "reason": "labelled" } });
    let path = format!("/v1/cases/{}/actions", case["id"].as_str().unwrap());
    let (status, _) = s.send_with(moderator, &path, "application/json", overturn.to_string());
    assert_eq!(status, StatusCode::OK);

    let b = driver.browser();
    sign_in(&b, &s, &s.keys[&Role::Admin]);
    b.find("nav a[href='/console/transparency']").click();
    b.wait_for("/console/transparency");
    b.screenshot(&browser::shots_dir().join("transparency.png"));
    // Decisions by category: one bar, three decisions high, titled with its value.
    let by_category = b.all("svg.rows rect.bar");
    let values: Vec<String> = by_category.iter().filter_map(|r| r.attr("data-value")).collect();
    let titles: Vec<String> = by_category.iter().map(|r| r.text_content()).collect();
    assert!(values.contains(&"3".to_string()), "{values:?} {titles:?}");
    assert!(titles.iter().any(|t| t.contains("ai_unlabelled") && t.contains('3')), "{titles:?}");
    // Decisions over time: a bar per day, today's with the three; every bar drawn.
    let over_time = b.all("svg.columns rect.bar");
    assert!(!over_time.is_empty());
    assert!(over_time.iter().any(|r| r.attr("data-value").as_deref() == Some("3")));
    let drawn = b.eval(
        "return [...document.querySelectorAll('rect.bar')].filter(r => r.dataset.value !== '0')
           .every(r => r.getBoundingClientRect().width > 0 && r.getBoundingClientRect().height > 0)",
    );
    assert_eq!(drawn, json!(true), "a bar with a value has no size on the page");
    assert!(b.text("body").contains("overturned") || b.text("body").contains("Overturned"), "{}", b.text("body"));
}
