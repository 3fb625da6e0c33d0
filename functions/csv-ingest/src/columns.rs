//! The header row: which column holds what (CSV.md, including the Square
//! and Toast exports and the simple aliases). Every alias lives in ALIASES.

/// What a column means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    OrderId,
    OrderedAt,
    /// Square: the date and time of day come separately.
    Date,
    Time,
    TimeZone,
    ItemName,
    Category,
    /// Toast: the category when there is no Sales Category.
    MenuGroup,
    Quantity,
    UnitPrice,
    /// The line amount before discount and tax (quantity × unit price).
    LineAmount,
    Discount,
    /// Square: discounts shown as negative amounts.
    Discounts,
    Tax,
    PaymentMethod,
    /// Square: a card brand means the order was paid by card.
    CardBrand,
    /// Square: refunds are rejected.
    EventType,
    /// Toast: voided lines are skipped.
    Void,
}

impl Field {
    /// The name used in row errors.
    pub fn name(self) -> &'static str {
        match self {
            Field::OrderId => "order_id",
            Field::OrderedAt | Field::Date | Field::Time | Field::TimeZone => "ordered_at",
            Field::ItemName => "item_name",
            Field::Category | Field::MenuGroup => "category",
            Field::Quantity => "quantity",
            Field::UnitPrice => "unit_price",
            Field::LineAmount => "line_total",
            Field::Discount | Field::Discounts => "discount",
            Field::Tax => "tax",
            Field::PaymentMethod | Field::CardBrand => "payment_method",
            Field::EventType => "event_type",
            Field::Void => "void",
        }
    }
}

/// Header names, normalised (see [`normalize`]), and what they mean.
pub const ALIASES: &[(&str, Field)] = &[
    ("order_id", Field::OrderId),
    ("transaction_id", Field::OrderId), // Square
    ("check_#", Field::OrderId),
    ("ordered_at", Field::OrderedAt),
    ("order_date", Field::OrderedAt), // Toast
    ("date", Field::Date),            // Square
    ("time", Field::Time),            // Square
    ("time_zone", Field::TimeZone),   // Square
    ("item_name", Field::ItemName),
    ("item", Field::ItemName),      // Square
    ("menu_item", Field::ItemName), // Toast
    ("category", Field::Category),
    ("sales_category", Field::Category), // Toast
    ("menu_group", Field::MenuGroup),    // Toast
    ("quantity", Field::Quantity),
    ("qty", Field::Quantity),
    ("unit_price", Field::UnitPrice),
    ("price", Field::UnitPrice),
    ("line_total", Field::LineAmount),
    ("gross_sales", Field::LineAmount), // Square
    ("gross_price", Field::LineAmount), // Toast
    ("discount", Field::Discount),
    ("discounts", Field::Discounts), // Square, shown negative
    ("tax", Field::Tax),
    ("payment_method", Field::PaymentMethod),
    ("card_brand", Field::CardBrand), // Square
    ("event_type", Field::EventType), // Square
    ("void?", Field::Void),           // Toast
    ("void", Field::Void),
];

/// `Order ID`, `order-id` and `ORDER_ID` are the same column.
pub fn normalize(header: &str) -> String {
    let mut out = String::new();
    for c in header.trim().chars().flat_map(char::to_lowercase) {
        let c = if c == ' ' || c == '-' || c == '_' {
            '_'
        } else {
            c
        };
        if !(c == '_' && out.ends_with('_')) {
            out.push(c);
        }
    }
    out.trim_matches('_').to_string()
}

/// Where each field is, by column index.
#[derive(Debug, Default)]
pub struct Columns {
    positions: Vec<(Field, usize)>,
    pub width: usize,
}

impl Columns {
    /// Maps a header row; the error lists the missing required columns.
    pub fn from_header(names: &[String]) -> Result<Self, String> {
        let mut columns = Self {
            positions: Vec::new(),
            width: names.len(),
        };
        for (index, name) in names.iter().enumerate() {
            let normalized = normalize(name);
            if let Some((_, field)) = ALIASES.iter().find(|(alias, _)| *alias == normalized) {
                if columns.get(*field).is_none() {
                    columns.positions.push((*field, index));
                }
            }
        }
        let mut missing = Vec::new();
        if columns.get(Field::OrderId).is_none() {
            missing.push("order_id");
        }
        let has_time = columns.get(Field::OrderedAt).is_some()
            || (columns.get(Field::Date).is_some() && columns.get(Field::Time).is_some());
        if !has_time {
            missing.push("ordered_at");
        }
        if columns.get(Field::ItemName).is_none() {
            missing.push("item_name");
        }
        if columns.get(Field::Quantity).is_none() {
            missing.push("quantity");
        }
        if columns.get(Field::UnitPrice).is_none() && columns.get(Field::LineAmount).is_none() {
            missing.push("unit_price");
        }
        match missing.as_slice() {
            [] => Ok(columns),
            [one] => Err(format!("missing required column: {one}")),
            many => Err(format!("missing required columns: {}", many.join(", "))),
        }
    }

    pub fn get(&self, field: Field) -> Option<usize> {
        self.positions
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, i)| *i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_match_ignoring_case_spaces_dashes_and_underscores() {
        assert_eq!(normalize("  Order ID "), "order_id");
        assert_eq!(normalize("order-id"), "order_id");
        assert_eq!(normalize("Check #"), "check_#");
        assert_eq!(normalize("Void?"), "void?");
        let columns = Columns::from_header(&header(&[
            "Qty",
            "Order ID",
            "Menu Item",
            "Order Date",
            "Gross Price",
        ]))
        .unwrap();
        assert_eq!(columns.get(Field::OrderId), Some(1));
        assert_eq!(columns.get(Field::LineAmount), Some(4));
    }

    #[test]
    fn missing_columns_are_named() {
        let err = Columns::from_header(&header(&[
            "ordered_at",
            "item_name",
            "quantity",
            "unit_price",
        ]))
        .unwrap_err();
        assert_eq!(err, "missing required column: order_id");
        let err = Columns::from_header(&header(&["hello", "world"])).unwrap_err();
        assert_eq!(
            err,
            "missing required columns: order_id, ordered_at, item_name, quantity, unit_price"
        );
        // Square: Date without Time is not a time.
        let err = Columns::from_header(&header(&[
            "Transaction ID",
            "Date",
            "Item",
            "Qty",
            "Gross Sales",
        ]))
        .unwrap_err();
        assert_eq!(err, "missing required column: ordered_at");
    }
}
