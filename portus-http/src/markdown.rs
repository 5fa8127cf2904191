//! Comments' Markdown turned into HTML that is safe to put in a page.
//!
//! A real CommonMark parser (`pulldown-cmark`) writes the HTML, and a real HTML sanitizer
//! (`ammonia`, built on the browsers' own parsing algorithm) then keeps only an allow-list of
//! tags, attributes and URL schemes. The parser passes raw HTML in the Markdown through as is,
//! so the sanitizer is what makes the result safe: it is never skipped. Comments are stored as
//! written and rendered when shown, so a stricter sanitizer applies to old comments too.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use ammonia::{Builder, UrlRelative};
use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// The tags a rendered comment may keep. No images, media, frames, forms, scripts or styles;
/// headings start at `h3`, below the page's own headings (see [`demote`]).
const TAGS: &[&str] = &[
    "p",
    "br",
    "hr",
    "em",
    "strong",
    "del",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "h3",
    "h4",
    "h5",
    "h6",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
];

/// Links may only lead to the web or to an e-mail address.
const URL_SCHEMES: &[&str] = &["http", "https", "mailto"];

/// Written on every link: comments are user content (no ranking credit, no `window.opener`,
/// no referrer leaking the repository's URL).
const LINK_REL: &str = "nofollow noopener noreferrer";

static SANITIZER: LazyLock<Builder<'static>> = LazyLock::new(|| {
    let mut builder = Builder::default();
    builder
        .tags(TAGS.iter().copied().collect())
        .generic_attributes(HashSet::from(["title"]))
        .tag_attributes(HashMap::from([
            ("a", HashSet::from(["href"])),
            ("ol", HashSet::from(["start"])),
        ]))
        // Their content goes too, not only the tags: a script's text is no comment.
        .clean_content_tags(HashSet::from(["script", "style", "template", "textarea", "title"]))
        .url_schemes(URL_SCHEMES.iter().copied().collect())
        // A relative link would lead somewhere on this site chosen by the commenter.
        .url_relative(UrlRelative::Deny)
        .link_rel(Some(LINK_REL))
        .strip_comments(true);
    builder
});

/// Renders a comment's Markdown (CommonMark with tables and strikethrough) to sanitized HTML.
///
/// Whatever the input, the output has only the allowed tags, no event handlers, styles or
/// images, and only `http`, `https` and `mailto` links, each with
/// `rel="nofollow noopener noreferrer"`.
pub fn render(markdown: &str) -> String {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    let events = Parser::new_ext(markdown, options).map(demote);
    let mut unsanitized = String::with_capacity(markdown.len() + markdown.len() / 2);
    pulldown_cmark::html::push_html(&mut unsanitized, events);
    SANITIZER.clean(&unsanitized).to_string()
}

/// Moves headings two levels down (`#` becomes `h3`), so a comment's headings sit under the
/// page's "Comments" heading instead of competing with the page title.
fn demote(event: Event<'_>) -> Event<'_> {
    match event {
        Event::Start(Tag::Heading {
            level,
            id,
            classes,
            attrs,
        }) => Event::Start(Tag::Heading {
            level: lower(level),
            id,
            classes,
            attrs,
        }),
        Event::End(TagEnd::Heading(level)) => Event::End(TagEnd::Heading(lower(level))),
        other => other,
    }
}

fn lower(level: HeadingLevel) -> HeadingLevel {
    match level {
        HeadingLevel::H1 => HeadingLevel::H3,
        HeadingLevel::H2 => HeadingLevel::H4,
        HeadingLevel::H3 => HeadingLevel::H5,
        _ => HeadingLevel::H6,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The tags of `html` with their attributes (name, value), read the way a browser would
    /// split them: the sanitizer escapes every `<` of text, so each `<` opens a tag.
    fn tags(html: &str) -> Vec<(String, Vec<(String, String)>)> {
        let mut found = Vec::new();
        let mut rest = html;
        while let Some(start) = rest.find('<') {
            rest = rest[start + 1..].trim_start_matches('/');
            let name_end = rest
                .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .unwrap_or(rest.len());
            let name = rest[..name_end].to_ascii_lowercase();
            rest = &rest[name_end..];
            let mut attributes = Vec::new();
            loop {
                rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
                if rest.is_empty() || rest.starts_with('>') {
                    rest = rest.get(1..).unwrap_or("");
                    break;
                }
                let end = rest
                    .find(|c: char| c.is_whitespace() || c == '=' || c == '>' || c == '/')
                    .unwrap_or(rest.len());
                let attribute = rest[..end].to_ascii_lowercase();
                rest = &rest[end..];
                let mut value = String::new();
                if let Some(after) = rest.strip_prefix('=') {
                    if let Some(quoted) = after.strip_prefix('"') {
                        let close = quoted.find('"').unwrap_or(quoted.len());
                        value = quoted[..close].to_string();
                        rest = quoted.get(close + 1..).unwrap_or("");
                    } else {
                        let close = after
                            .find(|c: char| c.is_whitespace() || c == '>')
                            .unwrap_or(after.len());
                        value = after[..close].to_string();
                        rest = &after[close..];
                    }
                }
                attributes.push((attribute, value));
            }
            found.push((name, attributes));
        }
        found
    }

    /// Everything that makes HTML live is absent: only allowed tags and attributes, no
    /// handlers, and links only to the web or to mail.
    fn assert_inert(input: &str, html: &str) {
        for (tag, attributes) in tags(html) {
            assert!(TAGS.contains(&tag.as_str()), "tag <{tag}> from {input:?}: {html}");
            for (name, value) in attributes {
                assert!(
                    ["href", "title", "rel", "start"].contains(&name.as_str()),
                    "attribute {name} from {input:?}: {html}"
                );
                if name == "href" {
                    let lower = value.to_ascii_lowercase();
                    assert!(
                        ["http://", "https://", "mailto:"].iter().any(|s| lower.starts_with(s)),
                        "href {value:?} from {input:?}: {html}"
                    );
                }
                if name == "rel" {
                    assert_eq!(value, LINK_REL);
                }
            }
        }
        let lower = html.to_ascii_lowercase();
        for live in [
            "<script", "<img", "<style", "<iframe", "<svg", "<form", "<object", "<embed",
        ] {
            assert!(!lower.contains(live), "{live} from {input:?}: {html}");
        }
    }

    #[test]
    fn hostile_markdown_comes_out_inert() {
        let hostile = [
            "<script>alert(1)</script>",
            "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
            "<img src=x onerror=alert(1)>",
            "![x](https://evil.example/track.png)",
            "[x](javascript:alert(1))",
            "[x](JaVaScRiPt:alert(1))",
            "[x]( javascript:alert(1) )",
            "[x](data:text/html,<script>alert(1)</script>)",
            "[x](vbscript:msgbox(1))",
            "[x](&#106;avascript:alert(1))",
            "[x](&#x6A;avascript&colon;alert(1))",
            "[x][r]\n\n[r]: javascript:alert(1)",
            "<a href=\"javascript:alert(1)\" onclick=\"alert(1)\">x</a>",
            "<a href=\"https://ok.example\" onmouseover=alert(1)>x</a>",
            "<style>body{display:none}</style>",
            "<p style=\"position:fixed\">x</p>",
            "<iframe src=\"https://evil.example\"></iframe>",
            "<form action=https://evil.example><input name=p></form>",
            "<svg onload=alert(1)>",
            "<javascript:alert(1)>",
            "*<em onclick=alert(1)>nested</em>* and **<div><script>alert(1)</script></div>**",
            "> <details open ontoggle=alert(1)>",
            "<!-- <script>alert(1)</script> -->",
            "`<script>` in code is text",
            "```\n<script>alert(1)</script>\n```",
            "<a href=\"/admin/users\">relative</a>",
            "| a | b |\n|---|---|\n| <img src=x onerror=alert(1)> | [y](javascript:alert(1)) |",
        ];
        for input in hostile {
            let html = render(input);
            assert_inert(input, &html);
            // No URL attribute carries a script scheme: the text of the links is `x`.
            for (_, attributes) in tags(&html) {
                for (_, value) in attributes {
                    let value = value.to_ascii_lowercase();
                    assert!(
                        !value.contains("javascript") && !value.contains("data:"),
                        "{input:?}: {html}"
                    );
                }
            }
        }
        assert_eq!(render("<script>alert(1)</script>"), "");
        assert_eq!(
            render("[x](javascript:alert(1))"),
            format!("<p><a rel=\"{LINK_REL}\">x</a></p>\n")
        );
        assert!(!render("<style>body{display:none}</style>").contains("display"));
        assert!(render("`<script>`").contains("<code>&lt;script&gt;</code>"));
    }

    #[test]
    fn ordinary_markdown_renders() {
        let html = render(
            "# Title\n\nSome *emphasis*, **strong**, ~~gone~~ and `code`.\n\n\
             - one\n- two\n\n3. three\n\n> quoted\n\n\
             [docs](https://example.com/docs \"The docs\") <mailto:ops@example.com> <https://example.org/>\n\n\
             ```\nfn main() {}\n```\n\n| a |\n|---|\n| 1 |\n",
        );
        for part in [
            "<h3>Title</h3>",
            "<em>emphasis</em>",
            "<strong>strong</strong>",
            "<del>gone</del>",
            "<code>code</code>",
            "<ul>\n<li>one</li>",
            "<ol start=\"3\">",
            "<blockquote>\n<p>quoted</p>",
            "<a href=\"https://example.com/docs\" title=\"The docs\" rel=\"nofollow noopener noreferrer\">docs</a>",
            "<a href=\"mailto:ops@example.com\" rel=\"nofollow noopener noreferrer\">mailto:ops@example.com</a>",
            "<a href=\"https://example.org/\" rel=\"nofollow noopener noreferrer\">https://example.org/</a>",
            "<pre><code>fn main() {}\n</code></pre>",
            "<table>",
            "<td>1</td>",
        ] {
            assert!(html.contains(part), "{part} missing from {html}");
        }
        assert_inert("ordinary", &html);
        assert_eq!(render("plain & <simple>"), "<p>plain &amp; </p>\n");
    }

    proptest! {
        #[test]
        fn any_text_renders_inert(input in ".{0,200}") {
            assert_inert(&input, &render(&input));
        }

        #[test]
        fn any_tag_soup_renders_inert(
            input in r#"(<|>|/|=|"|'| |on[a-z]{0,6}|script|img|a|href|javascript:|data:|&#[0-9x]{1,3};?|\[x\]\(|\)|\*|`|\n|[a-z]{1,3}){0,40}"#
        ) {
            assert_inert(&input, &render(&input));
        }
    }
}
