use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::RepositoryId;

id_type!(
    /// Identifies a comment.
    CommentId
);

/// A comment on a repository (Markdown, rendered with HTML filtered).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    /// The comment's id.
    pub id: CommentId,
    /// The repository it is about.
    pub repository_id: RepositoryId,
    /// Who wrote it; kept by name so it survives the author's deletion.
    pub author: Option<String>,
    /// The text, Markdown.
    pub body: String,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

/// The orders of a repository's comments; each ends with the id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CommentSort {
    /// By the time they were written: oldest first (the default).
    #[default]
    CreatedAt,
    /// By id.
    Id,
}
