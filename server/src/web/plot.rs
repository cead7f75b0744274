//! Plots for the overview, drawn on the server as SVG (no script): bars
//! with their values on hover (`<title>`), geometry computed here, text
//! escaped by the template that draws them.

/// One bar.
#[derive(Debug, Clone)]
pub(crate) struct Bar {
    pub(crate) x: i64,
    pub(crate) y: i64,
    pub(crate) width: i64,
    pub(crate) height: i64,
    /// What the bar stands for and its value, on hover.
    pub(crate) label: String,
}

/// A bar chart of one series.
#[derive(Debug, Clone)]
pub(crate) struct Chart {
    pub(crate) title: String,
    pub(crate) bars: Vec<Bar>,
    /// The largest value (the axis' top), and the first and last labels
    /// under the axis.
    pub(crate) top: i64,
    pub(crate) first: String,
    pub(crate) last: String,
    pub(crate) total: i64,
}

/// The drawing's size.
pub(crate) const WIDTH: i64 = 640;
pub(crate) const HEIGHT: i64 = 140;

impl Chart {
    /// A chart of `points` (label, value), in order.
    pub(crate) fn new(title: impl Into<String>, points: &[(String, i64)]) -> Chart {
        let top = points.iter().map(|p| p.1).max().unwrap_or(0).max(1);
        let n = i64::try_from(points.len()).unwrap_or(1).max(1);
        let slot = (WIDTH / n).max(1);
        let width = (slot * 4 / 5).max(1);
        let bars = points
            .iter()
            .enumerate()
            .map(|(i, (label, value))| {
                let v = (*value).max(0);
                let height =
                    (v.saturating_mul(HEIGHT) / top).clamp(if v > 0 { 1 } else { 0 }, HEIGHT);
                Bar {
                    x: i64::try_from(i).unwrap_or(0).saturating_mul(slot),
                    y: HEIGHT - height,
                    width,
                    height,
                    label: format!("{label}: {value}"),
                }
            })
            .collect();
        Chart {
            title: title.into(),
            bars,
            top,
            first: points.first().map(|p| p.0.clone()).unwrap_or_default(),
            last: points.last().map(|p| p.0.clone()).unwrap_or_default(),
            total: points.iter().map(|p| p.1).fold(0i64, i64::saturating_add),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.total == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_fit_the_drawing_and_keep_their_order() {
        let points: Vec<(String, i64)> = (0..10).map(|i| (format!("d{i}"), i * 3)).collect();
        let c = Chart::new("t", &points);
        assert_eq!(c.top, 27);
        assert_eq!(c.bars.len(), 10);
        assert!(c.bars.iter().all(|b| b.y >= 0 && b.y + b.height == HEIGHT));
        assert_eq!(c.bars[9].height, HEIGHT);
        assert_eq!(c.bars[0].height, 0);
        assert!(c.bars.windows(2).all(|w| w[0].x < w[1].x));
        assert!(Chart::new("empty", &[]).is_empty());
    }
}
