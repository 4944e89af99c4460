//! TEMPORARY placeholder until the reply parser lands (being written in parallel).
pub struct ReplyText {
    pub text: String,
}
pub fn new_text(plain: Option<&str>, _html: Option<&str>) -> ReplyText {
    ReplyText {
        text: plain.unwrap_or_default().to_string(),
    }
}
