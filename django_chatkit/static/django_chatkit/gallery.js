// Sample widgets covering every component of the SDK's widget set, for the gallery page
// (templates/django_chatkit/gallery.html) and the renderer's browser tests.

const pick = (type, payload, extra = {}) => ({ type, payload, handler: "client", ...extra });

export const GALLERY = [
  {
    title: "ListView, ListViewItem, Row, Icon, Text (line selector)",
    widget: {
      type: "ListView",
      limit: 3,
      status: { text: "Subway lines", icon: "map-pin" },
      children: ["blue", "green", "orange", "red"].map((line) => ({
        type: "ListViewItem",
        key: `${line}-line`,
        onClickAction: pick("line.select", { id: `${line}-line` }),
        children: [
          {
            type: "Row",
            gap: 3,
            children: [
              { type: "Icon", name: line === "blue" ? "check" : "empty-circle", color: line === "blue" ? "success" : "tertiary" },
              { type: "Text", value: `${line[0].toUpperCase()}${line.slice(1)} line`, weight: "semibold" },
              { type: "Spacer" },
              { type: "Badge", label: line === "red" ? "Delayed" : "On time", color: line === "red" ? "danger" : "success" },
            ],
          },
        ],
      })),
    },
  },
  {
    title: "Card, Col, Box, Title, Caption, Image, Button, Divider (article)",
    widget: {
      type: "Card",
      size: "md",
      status: { text: "Article", icon: "document" },
      children: [
        {
          type: "Row",
          gap: 4,
          align: "start",
          children: [
            {
              type: "Image",
              src: "data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHZpZXdCb3g9IjAgMCA4MCA4MCI+PHJlY3Qgd2lkdGg9IjgwIiBoZWlnaHQ9IjgwIiBmaWxsPSIjNjM2NmYxIi8+PGNpcmNsZSBjeD0iNDAiIGN5PSIzMiIgcj0iMTQiIGZpbGw9IiNmZmYiLz48L3N2Zz4=",
              alt: "Article cover",
              size: 64,
              radius: "lg",
              frame: true,
            },
            {
              type: "Col",
              gap: 1,
              flex: 1,
              children: [
                { type: "Title", value: "Building chat widgets", size: "md" },
                { type: "Caption", value: "5 min read · Guides" },
                { type: "Text", value: "Create interactive widgets with actions and entity tagging.", size: "sm", color: "secondary", maxLines: 2 },
              ],
            },
          ],
        },
        { type: "Divider", spacing: 1 },
        {
          type: "Box",
          direction: "row",
          gap: 2,
          justify: "end",
          children: [
            { type: "Button", label: "Save", variant: "outline", color: "secondary", iconStart: "star", onClickAction: pick("article.save", { id: "article-123" }) },
            { type: "Button", label: "View Article", onClickAction: pick("open_article", { id: "article-123" }) },
          ],
        },
      ],
    },
  },
  {
    title: "Form, Label, Input, Textarea, Select, DatePicker, Checkbox, RadioGroup",
    widget: {
      type: "Card",
      children: [
        {
          type: "Form",
          gap: 3,
          onSubmitAction: pick("event.create", { source: "gallery" }),
          children: [
            { type: "Label", value: "Event name", fieldName: "name" },
            { type: "Input", name: "name", placeholder: "Team offsite", required: true },
            { type: "Label", value: "Notes", fieldName: "notes" },
            { type: "Textarea", name: "notes", placeholder: "Anything to add?", rows: 2 },
            {
              type: "Row",
              gap: 3,
              children: [
                {
                  type: "Select",
                  name: "city",
                  placeholder: "City",
                  options: ["Paris", "Tokyo"].map((label) => ({ value: label.toLowerCase(), label })),
                },
                { type: "DatePicker", name: "date", defaultValue: "2026-12-01T00:00:00", min: "2026-11-01T00:00:00" },
              ],
            },
            { type: "Checkbox", name: "remind", label: "Remind me", defaultChecked: true },
            {
              type: "RadioGroup",
              name: "size",
              ariaLabel: "Group size",
              direction: "row",
              defaultValue: "small",
              options: [
                { value: "small", label: "Small" },
                { value: "large", label: "Large" },
              ],
            },
            { type: "Button", label: "Create event", submit: true, iconEnd: "chevron-right" },
          ],
        },
      ],
    },
  },
  {
    title: "Markdown, Transition, Text colors and weights",
    widget: {
      type: "Card",
      children: [
        { type: "Markdown", value: "### Markdown\nSupports **bold**, _italic_, `code`, [links](https://example.com) and lists:\n- one\n- two" },
        {
          type: "Transition",
          children: {
            type: "Row",
            gap: 2,
            wrap: "wrap",
            children: ["prose", "primary", "secondary", "tertiary", "success", "warning", "danger", "blue-600", { light: "#0a7", dark: "#5fd" }].map((color) => ({
              type: "Text",
              value: typeof color === "string" ? color : "theme",
              color,
              weight: "medium",
            })),
          },
        },
      ],
    },
  },
  {
    title: "Chart (bar, line, area)",
    widget: {
      type: "Card",
      children: [
        { type: "Title", value: "Weekly riders", size: "sm" },
        {
          type: "Chart",
          height: 180,
          showYAxis: true,
          xAxis: "day",
          data: [
            { day: "Mon", blue: 120, green: 80, avg: 90 },
            { day: "Tue", blue: 140, green: 95, avg: 100 },
            { day: "Wed", blue: 110, green: 70, avg: 85 },
            { day: "Thu", blue: 160, green: 120, avg: 130 },
            { day: "Fri", blue: 180, green: 130, avg: 140 },
          ],
          series: [
            { type: "bar", dataKey: "blue", label: "Blue line", color: "blue" },
            { type: "bar", dataKey: "green", label: "Green line", color: "green" },
            { type: "line", dataKey: "avg", label: "Average", color: "orange" },
            { type: "area", dataKey: "green", label: "Green (area)", color: "purple" },
          ],
        },
      ],
    },
  },
  {
    title: "Basic root, Badges, Buttons and sizes",
    widget: {
      type: "Basic",
      gap: 3,
      children: [
        {
          type: "Row",
          gap: 2,
          wrap: "wrap",
          children: ["secondary", "success", "danger", "warning", "info", "discovery"].map((color, i) => ({
            type: "Badge",
            label: color,
            color,
            variant: ["soft", "solid", "outline"][i % 3],
            pill: i % 2 === 0,
          })),
        },
        {
          type: "Row",
          gap: 2,
          wrap: "wrap",
          children: [
            { type: "Button", label: "Solid", variant: "solid" },
            { type: "Button", label: "Soft", variant: "soft", color: "info" },
            { type: "Button", label: "Outline", variant: "outline", color: "danger" },
            { type: "Button", label: "Ghost", variant: "ghost" },
            { type: "Button", iconStart: "plus", uniform: true, pill: true, onClickAction: pick("add", {}) },
            { type: "Button", label: "Disabled", disabled: true },
          ],
        },
        { type: "Box", padding: 3, radius: "md", background: "surface-secondary", border: { size: 1, color: "subtle" }, children: [{ type: "Text", value: "A Box with padding, radius, background and border.", size: "sm" }] },
      ],
    },
  },
  {
    title: "Dark themed Card with confirm / cancel",
    widget: {
      type: "Card",
      theme: "dark",
      asForm: true,
      status: { text: "Confirm booking", icon: "calendar" },
      confirm: { label: "Book", action: pick("booking.confirm", { id: "b-1" }) },
      cancel: { label: "Cancel", action: pick("booking.cancel", { id: "b-1" }) },
      children: [
        { type: "Title", value: "Table for two", size: "lg" },
        { type: "Text", value: "Friday 8pm", color: "secondary", editable: { name: "when", placeholder: "When" } },
      ],
    },
  },
];
