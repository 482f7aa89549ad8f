//! A real browser for tests: Debian's chromium, headless, driven by chromedriver over the
//! W3C WebDriver protocol (plain HTTP and JSON, so a few calls cover what the tests need).
//!
//! Without chromium and chromedriver the browser tests say so and pass, unless
//! `STEWARD_REQUIRE_BROWSER=1` (set by CI), when they fail.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::blocking::Client;
use serde_json::{Value, json};

pub const CONTROL: &str = "\u{E009}";
pub const ENTER: &str = "\u{E007}";
pub const TAB: &str = "\u{E004}";

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Driver {
    process: Child,
    base: String,
    client: Client,
}

/// Starts chromedriver, or `None` (after saying why) when the machine has no browser.
pub fn driver() -> Option<Driver> {
    let found = |p: &str| Path::new(p).exists();
    if !found("/usr/bin/chromedriver") || !found("/usr/bin/chromium") {
        assert!(
            std::env::var("STEWARD_REQUIRE_BROWSER").is_err(),
            "STEWARD_REQUIRE_BROWSER is set but /usr/bin/chromium or /usr/bin/chromedriver is missing \
             (apt-get install chromium chromium-driver)"
        );
        eprintln!("skipped: no /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium chromium-driver)");
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let process = Command::new("/usr/bin/chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let d = Driver { process, base: format!("http://127.0.0.1:{port}"), client: Client::new() };
    let start = Instant::now();
    while d.client.get(format!("{}/status", d.base)).send().map(|r| !r.status().is_success()).unwrap_or(true) {
        assert!(start.elapsed() < Duration::from_secs(20), "chromedriver did not answer within 20 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(d)
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// One browser window with its own cookies.
pub struct Browser<'a> {
    driver: &'a Driver,
    session: String,
}

impl Driver {
    pub fn browser(&self) -> Browser<'_> {
        let caps = json!({ "capabilities": { "alwaysMatch": { "browserName": "chrome",
            "goog:chromeOptions": { "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1400"] } } } });
        let v = call(&self.client, "POST", &format!("{}/session", self.base), Some(caps));
        let session = v["sessionId"].as_str().expect("a session id").to_string();
        Browser { driver: self, session }
    }
}

fn call(client: &Client, method: &str, url: &str, body: Option<Value>) -> Value {
    let req = match method {
        "GET" => client.get(url),
        "DELETE" => client.delete(url),
        _ => client.post(url).json(&body.unwrap_or(json!({}))),
    };
    let r = req.timeout(Duration::from_secs(60)).send().unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = r.status();
    let v: Value = r.json().unwrap_or(Value::Null);
    assert!(status.is_success(), "{method} {url}: {status} {v}");
    v["value"].clone()
}

impl Browser<'_> {
    fn at(&self, path: &str) -> String {
        format!("{}/session/{}{path}", self.driver.base, self.session)
    }

    fn post(&self, path: &str, body: Value) -> Value {
        call(&self.driver.client, "POST", &self.at(path), Some(body))
    }

    fn get(&self, path: &str) -> Value {
        call(&self.driver.client, "GET", &self.at(path), None)
    }

    pub fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url }));
        self.eval("window.stewardSeen = true");
    }

    /// Waits (up to 10 s) for a new page, at a URL containing `part`, to have loaded.
    /// Pages loaded by [`Browser::goto`] or waited for before are marked, so a click that
    /// has not yet left its page is not taken for the page it leads to.
    pub fn wait_for(&self, part: &str) -> String {
        let start = Instant::now();
        loop {
            let url = self.url();
            let fresh = self.eval("return document.readyState === 'complete' && !window.stewardSeen") == json!(true);
            if url.contains(part) && fresh {
                self.eval("window.stewardSeen = true");
                return url;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "still at {url}, not {part:?}:\n{}", self.text("main"));
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub fn url(&self) -> String {
        self.get("/url").as_str().unwrap_or_default().to_string()
    }

    /// The first element matching `css`; panics naming the page when there is none.
    pub fn find(&self, css: &str) -> Element<'_> {
        let found = self.try_find(css);
        found.unwrap_or_else(|| panic!("no element {css:?} on {}:\n{}", self.url(), self.text("body")))
    }

    pub fn try_find(&self, css: &str) -> Option<Element<'_>> {
        self.all(css).into_iter().next()
    }

    pub fn all(&self, css: &str) -> Vec<Element<'_>> {
        let v = self.post("/elements", json!({ "using": "css selector", "value": css }));
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str())
                    .map(|id| Element { browser: self, id: id.into() })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn text(&self, css: &str) -> String {
        self.try_find(css).map(|e| e.text()).unwrap_or_default()
    }

    /// Runs `script` in the page and returns what it returns.
    pub fn eval(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": [] }))
    }

    /// Presses keys on whatever has the focus (the page, when nothing does).
    pub fn keys(&self, text: &str) {
        let mut actions = Vec::new();
        for c in text.chars() {
            actions.push(json!({ "type": "keyDown", "value": c.to_string() }));
            actions.push(json!({ "type": "keyUp", "value": c.to_string() }));
        }
        self.post("/actions", json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] }));
        self.post("/actions", json!({ "actions": [] }));
    }

    /// Holds `modifier` (a WebDriver key code such as CONTROL) while pressing `key`.
    pub fn chord(&self, modifier: &str, key: &str) {
        let actions = json!([{ "type": "keyDown", "value": modifier }, { "type": "keyDown", "value": key },
            { "type": "keyUp", "value": key }, { "type": "keyUp", "value": modifier }]);
        self.post("/actions", json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] }));
        self.post("/actions", json!({ "actions": [] }));
    }

    /// Saves a screenshot of the page to `path` (PNG).
    pub fn screenshot(&self, path: &Path) {
        let png = self.get("/screenshot");
        let bytes = base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap_or_default()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// Every visible form field without a label: `id`/`name` of each (empty when all have one).
    pub fn unlabelled_fields(&self) -> Vec<String> {
        let v = self.eval(
            "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
               .filter(f => f.labels.length === 0 && !f.getAttribute('aria-label'))
               .map(f => f.id || f.name);",
        );
        v.as_array().map(|a| a.iter().map(|s| s.as_str().unwrap_or_default().to_string()).collect()).unwrap_or_default()
    }
}

impl Drop for Browser<'_> {
    fn drop(&mut self) {
        let _ = self.driver.client.delete(format!("{}/session/{}", self.driver.base, self.session)).send();
    }
}

pub struct Element<'a> {
    browser: &'a Browser<'a>,
    id: String,
}

impl Element<'_> {
    fn path(&self, tail: &str) -> String {
        format!("/element/{}{tail}", self.id)
    }

    pub fn click(&self) {
        self.browser.post(&self.path("/click"), json!({}));
    }

    /// The text as rendered (innerText).
    pub fn text(&self) -> String {
        let v = self.browser.post(
            "/execute/sync",
            json!({ "script": "return arguments[0].innerText", "args": [{ ELEMENT: self.id }] }),
        );
        v.as_str().unwrap_or_default().to_string()
    }

    /// The text of the element and all it holds, shown or not (an SVG title's).
    pub fn text_content(&self) -> String {
        let v = self.browser.post(
            "/execute/sync",
            json!({ "script": "return arguments[0].textContent", "args": [{ ELEMENT: self.id }] }),
        );
        v.as_str().unwrap_or_default().to_string()
    }

    pub fn attr(&self, name: &str) -> Option<String> {
        self.browser.get(&self.path(&format!("/attribute/{name}"))).as_str().map(str::to_string)
    }
}

/// Where screenshots of a test go (kept after the test, to be looked at).
pub fn shots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
