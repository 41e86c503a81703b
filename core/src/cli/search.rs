//! `panechat search TEXT`: conversations by what was said in them, best match first.

use panechat::{Error, Result};

use super::ctx::Ctx;
use super::output::{out, out_json};
use super::ui::truncate;

/// `panechat search TEXT… [--json]`
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The words to find (all of them, in any case, in the title or the messages).
    #[arg(required = true, num_args = 1..)]
    text: Vec<String>,
    /// Print a JSON array: id, title, turns, updated_at, score, count, snippet.
    #[arg(long)]
    json: bool,
    /// Show at most N conversations.
    #[arg(short = 'n', long, value_name = "N")]
    limit: Option<usize>,
}

/// One hit as `search --json` prints it.
#[derive(serde::Serialize)]
struct JsonHit<'a> {
    id: &'a str,
    title: Option<&'a str>,
    turns: u64,
    updated_at: &'a str,
    age: String,
    score: i64,
    count: usize,
    snippet: &'a str,
}

/// Runs the command.
pub fn run(ctx: &mut Ctx, args: Args) -> Result<i32> {
    let text = args.text.join(" ");
    if text.trim().is_empty() {
        return Err(Error::BadArgument {
            message: "give the words to search for, e.g. `panechat search borrow checker`".into(),
        });
    }
    let mut hits = panechat::search::search(&ctx.store, &text)?;
    if let Some(n) = args.limit {
        hits.truncate(n);
    }
    if args.json {
        let items: Vec<JsonHit> = hits
            .iter()
            .map(|h| JsonHit {
                id: h.summary.id.as_str(),
                title: h.summary.title.as_deref(),
                turns: h.summary.turns,
                updated_at: &h.summary.updated_at,
                age: panechat::time::ago(&h.summary.updated_at),
                score: h.score,
                count: h.count,
                snippet: &h.snippet,
            })
            .collect();
        out_json(&items)?;
        return Ok(0);
    }
    if hits.is_empty() {
        ctx.note(&format!(
            "no conversation mentions {}; `panechat ls` lists them all",
            panechat::title::sanitize_title(&text)
        ));
        return Ok(0);
    }
    let mut s = String::new();
    for h in &hits {
        let title = panechat::title::sanitize_title(&h.summary.display_title());
        s.push_str(&format!(
            "{:<12} {:>4}  {:>4}  {}\n",
            h.summary.id.short(),
            h.summary.turns,
            panechat::time::ago(&h.summary.updated_at),
            truncate(&title, 60)
        ));
        if !h.snippet.is_empty() {
            s.push_str(&format!("    {}\n", truncate(&h.snippet, 76)));
        }
    }
    out(&s)?;
    Ok(0)
}
