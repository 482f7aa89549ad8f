//! Synthetic text for tests: written here, no external data.
#![allow(dead_code)]

/// xorshift64* — deterministic, dependency-free.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next() >> 32) * n as u64) >> 32) as usize
    }
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// A pool of common simplified characters (written by hand for the tests).
pub const POOL: &str = "的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会家可下而过天去能对小多然于心学么之都好看起发当没成只如事把还用第样道想作种开美总从无情己面最女但现前些所同日手又行意动方期它头经长儿回位分爱老因很给名法间斯知世什两次使身者被高已亲其进此话常与活正感见明问力理尔点文几定本公特做外孩相西果走将月十实向声车全信重三机工物气每并别真打太新比才便夫再书部水像眼等体却加电主界门利海受听表德少克代员许先口由死安写性马光白或住难望教命花结乐色更拉东神记处让母父应直字场平报友关放至张认接告入笑内英军候民岁往何度山觉路带万男边风解叫任金快原吃妈变通师立象数四失满战远格士音轻目条呢病始达深完今提求清王化空业思切怎非找片罗钱吗语元喜曾离飞科言干流欢约各即指合反题必该论交终林请医晚制球决传画保读运及则房早院量苦火布品近坐产答星精视五连司巴奇管类未朋且婚台夜青北队久乎越观落尽形影红爸百令周吧识步希亚术留市半热送兴造谈容极随演收首根讲整式取照办强石古华拿计您装似足双妻尼转诉米称丽客南领节衣站黑刻统断福城故历惊脸选包紧争另建维绝树系伤示愿持千史谁准联妇纪基买志静阿诗独复痛消社算";

pub fn pool() -> Vec<char> {
    POOL.chars().collect()
}

/// A random Chinese "post" of `len` characters with occasional punctuation.
pub fn random_text(rng: &mut Rng, len: usize) -> String {
    let pool = pool();
    let mut s = String::new();
    for i in 0..len {
        s.push(pool[rng.below(pool.len())]);
        if i % 17 == 16 {
            s.push('，');
        }
    }
    s
}

/// Edits a fraction `rate` of the characters of `text`: substitutions,
/// insertions and deletions in equal parts.
pub fn mutate(rng: &mut Rng, text: &str, rate: f64) -> String {
    let pool = pool();
    let mut out = String::new();
    for c in text.chars() {
        if rng.chance(rate) {
            match rng.below(3) {
                0 => out.push(pool[rng.below(pool.len())]),
                1 => {
                    out.push(c);
                    out.push(pool[rng.below(pool.len())]);
                }
                _ => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}
